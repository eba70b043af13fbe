// C shim for the OpenCL kernel backend: a table of OpenCL entry points resolved at run time.
//
// Why C and not Swift:
// - The backend must run (and report "unavailable") on hosts without an OpenCL driver, so the ICD
//   loader is opened with dlopen instead of being linked: a linked libOpenCL.so.1 that is missing
//   stops the whole process from starting. Swift has no typed dlsym, and the entry points' exact C
//   signatures (cl_* handle and bitfield types from <CL/cl.h>) are only spelled correctly in C.
// - <CL/cl.h> is included only for its types and constants; nothing here links against OpenCL.
// - The loader runs once per process behind pthread_once, which Swift cannot call with a C
//   callback as cheaply and safely as C can.
//
// Every symbol is prefixed `cdsk_`.
#ifndef CDEEPSEEK_OPENCL_H
#define CDEEPSEEK_OPENCL_H

// The OpenCL 3.0 headers declare every entry point we resolve; 1.2 names stay visible for
// drivers that predate clCreateCommandQueueWithProperties.
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 300
#endif
#ifndef CL_USE_DEPRECATED_OPENCL_1_2_APIS
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#endif

#if defined(__has_include)
#if !__has_include(<CL/cl.h>)
#error "CDeepseekOpenCL needs the OpenCL headers at build time (Debian: apt-get install opencl-headers); the library itself is loaded at run time."
#endif
#endif
#include <CL/cl.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Entry point signatures (as in <CL/cl.h>)

typedef cl_int (*cdsk_clGetPlatformIDs_fn)(cl_uint, cl_platform_id *, cl_uint *);
typedef cl_int (*cdsk_clGetPlatformInfo_fn)(cl_platform_id, cl_platform_info, size_t, void *, size_t *);
typedef cl_int (*cdsk_clGetDeviceIDs_fn)(cl_platform_id, cl_device_type, cl_uint, cl_device_id *, cl_uint *);
typedef cl_int (*cdsk_clGetDeviceInfo_fn)(cl_device_id, cl_device_info, size_t, void *, size_t *);
typedef cl_context (*cdsk_clCreateContext_fn)(
    const cl_context_properties *, cl_uint, const cl_device_id *,
    void (*)(const char *, const void *, size_t, void *), void *, cl_int *);
typedef cl_int (*cdsk_clReleaseContext_fn)(cl_context);
typedef cl_command_queue (*cdsk_clCreateCommandQueue_fn)(cl_context, cl_device_id, cl_command_queue_properties, cl_int *);
typedef cl_command_queue (*cdsk_clCreateCommandQueueWithProperties_fn)(
    cl_context, cl_device_id, const cl_queue_properties *, cl_int *);
typedef cl_int (*cdsk_clReleaseCommandQueue_fn)(cl_command_queue);
typedef cl_mem (*cdsk_clCreateBuffer_fn)(cl_context, cl_mem_flags, size_t, void *, cl_int *);
typedef cl_int (*cdsk_clReleaseMemObject_fn)(cl_mem);
typedef cl_int (*cdsk_clEnqueueReadBuffer_fn)(
    cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint, const cl_event *, cl_event *);
typedef cl_int (*cdsk_clEnqueueWriteBuffer_fn)(
    cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint, const cl_event *, cl_event *);
typedef void *(*cdsk_clEnqueueMapBuffer_fn)(
    cl_command_queue, cl_mem, cl_bool, cl_map_flags, size_t, size_t, cl_uint, const cl_event *, cl_event *, cl_int *);
typedef cl_int (*cdsk_clEnqueueUnmapMemObject_fn)(cl_command_queue, cl_mem, void *, cl_uint, const cl_event *, cl_event *);
typedef cl_program (*cdsk_clCreateProgramWithSource_fn)(cl_context, cl_uint, const char **, const size_t *, cl_int *);
typedef cl_int (*cdsk_clBuildProgram_fn)(
    cl_program, cl_uint, const cl_device_id *, const char *, void (*)(cl_program, void *), void *);
typedef cl_int (*cdsk_clGetProgramBuildInfo_fn)(cl_program, cl_device_id, cl_program_build_info, size_t, void *, size_t *);
typedef cl_int (*cdsk_clReleaseProgram_fn)(cl_program);
typedef cl_kernel (*cdsk_clCreateKernel_fn)(cl_program, const char *, cl_int *);
typedef cl_int (*cdsk_clReleaseKernel_fn)(cl_kernel);
typedef cl_int (*cdsk_clSetKernelArg_fn)(cl_kernel, cl_uint, size_t, const void *);
typedef cl_int (*cdsk_clEnqueueNDRangeKernel_fn)(
    cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *, cl_uint, const cl_event *,
    cl_event *);
typedef cl_int (*cdsk_clFinish_fn)(cl_command_queue);
typedef cl_int (*cdsk_clWaitForEvents_fn)(cl_uint, const cl_event *);
typedef cl_int (*cdsk_clReleaseEvent_fn)(cl_event);
typedef cl_int (*cdsk_clGetEventProfilingInfo_fn)(cl_event, cl_profiling_info, size_t, void *, size_t *);

/// The OpenCL entry points the backend uses, resolved from the ICD loader.
///
/// Every field is non-NULL except `clCreateCommandQueueWithProperties` (OpenCL 2.0+; older
/// loaders lack it and `clCreateCommandQueue` is used instead).
typedef struct cdsk_opencl_api {
    cdsk_clGetPlatformIDs_fn clGetPlatformIDs;
    cdsk_clGetPlatformInfo_fn clGetPlatformInfo;
    cdsk_clGetDeviceIDs_fn clGetDeviceIDs;
    cdsk_clGetDeviceInfo_fn clGetDeviceInfo;
    cdsk_clCreateContext_fn clCreateContext;
    cdsk_clReleaseContext_fn clReleaseContext;
    cdsk_clCreateCommandQueue_fn clCreateCommandQueue;
    cdsk_clCreateCommandQueueWithProperties_fn clCreateCommandQueueWithProperties;
    cdsk_clReleaseCommandQueue_fn clReleaseCommandQueue;
    cdsk_clCreateBuffer_fn clCreateBuffer;
    cdsk_clReleaseMemObject_fn clReleaseMemObject;
    cdsk_clEnqueueReadBuffer_fn clEnqueueReadBuffer;
    cdsk_clEnqueueWriteBuffer_fn clEnqueueWriteBuffer;
    cdsk_clEnqueueMapBuffer_fn clEnqueueMapBuffer;
    cdsk_clEnqueueUnmapMemObject_fn clEnqueueUnmapMemObject;
    cdsk_clCreateProgramWithSource_fn clCreateProgramWithSource;
    cdsk_clBuildProgram_fn clBuildProgram;
    cdsk_clGetProgramBuildInfo_fn clGetProgramBuildInfo;
    cdsk_clReleaseProgram_fn clReleaseProgram;
    cdsk_clCreateKernel_fn clCreateKernel;
    cdsk_clReleaseKernel_fn clReleaseKernel;
    cdsk_clSetKernelArg_fn clSetKernelArg;
    cdsk_clEnqueueNDRangeKernel_fn clEnqueueNDRangeKernel;
    cdsk_clFinish_fn clFinish;
    cdsk_clWaitForEvents_fn clWaitForEvents;
    cdsk_clReleaseEvent_fn clReleaseEvent;
    cdsk_clGetEventProfilingInfo_fn clGetEventProfilingInfo;
} cdsk_opencl_api;

/// Opens the OpenCL ICD loader (once per process) and returns its entry points, or NULL when
/// the library or a required symbol is missing; `cdsk_opencl_load_error` then says which.
///
/// Thread-safe. The library stays loaded for the life of the process.
const cdsk_opencl_api *cdsk_opencl_api_get(void);

/// Why `cdsk_opencl_api_get` returned NULL ("" when it succeeded or was not called yet).
const char *cdsk_opencl_load_error(void);

/// The symbolic name of an OpenCL error code ("CL_OUT_OF_RESOURCES"), or "CL_UNKNOWN_ERROR".
const char *cdsk_opencl_error_name(cl_int code);

// MARK: - Constants
//
// The flag constants in <CL/cl.h> are macros with casts or shifts that Swift imports
// inconsistently across header versions; these plain values are the same numbers.

static const cl_int cdsk_CL_SUCCESS = CL_SUCCESS;
static const cl_device_type cdsk_CL_DEVICE_TYPE_ALL = CL_DEVICE_TYPE_ALL;
static const cl_device_type cdsk_CL_DEVICE_TYPE_CPU = CL_DEVICE_TYPE_CPU;
static const cl_device_type cdsk_CL_DEVICE_TYPE_GPU = CL_DEVICE_TYPE_GPU;
static const cl_device_type cdsk_CL_DEVICE_TYPE_ACCELERATOR = CL_DEVICE_TYPE_ACCELERATOR;
static const cl_mem_flags cdsk_CL_MEM_READ_WRITE = CL_MEM_READ_WRITE;
static const cl_mem_flags cdsk_CL_MEM_READ_ONLY = CL_MEM_READ_ONLY;
static const cl_mem_flags cdsk_CL_MEM_WRITE_ONLY = CL_MEM_WRITE_ONLY;
static const cl_mem_flags cdsk_CL_MEM_USE_HOST_PTR = CL_MEM_USE_HOST_PTR;
static const cl_mem_flags cdsk_CL_MEM_COPY_HOST_PTR = CL_MEM_COPY_HOST_PTR;
static const cl_map_flags cdsk_CL_MAP_READ = CL_MAP_READ;
static const cl_command_queue_properties cdsk_CL_QUEUE_PROFILING_ENABLE = CL_QUEUE_PROFILING_ENABLE;
static const cl_queue_properties cdsk_CL_QUEUE_PROPERTIES = CL_QUEUE_PROPERTIES;
static const cl_context_properties cdsk_CL_CONTEXT_PLATFORM = CL_CONTEXT_PLATFORM;

#ifdef __cplusplus
}
#endif

#endif
