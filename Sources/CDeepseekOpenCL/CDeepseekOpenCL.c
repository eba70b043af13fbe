#include "CDeepseekOpenCL.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static cdsk_opencl_api api;
static const cdsk_opencl_api *loaded = NULL;
static char load_error[512] = "";
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void cdsk_opencl_load(void) {
    // The versioned name is what the ICD loader package installs at run time; the bare name
    // exists only with development packages.
    const char *names[] = {"libOpenCL.so.1", "libOpenCL.so", "/System/Library/Frameworks/OpenCL.framework/OpenCL"};
    void *handle = NULL;
    const char *first_error = NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && handle == NULL; i++) {
        handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (handle == NULL && first_error == NULL) {
            const char *e = dlerror();
            first_error = e ? e : names[i];
        }
    }
    if (handle == NULL) {
        snprintf(load_error, sizeof(load_error), "no OpenCL library: %s",
                 first_error ? first_error : "libOpenCL.so.1 not found");
        return;
    }
#define CDSK_RESOLVE(name, required)                                                                \
    do {                                                                                            \
        api.name = (cdsk_##name##_fn)dlsym(handle, #name);                                          \
        if (api.name == NULL && (required)) {                                                       \
            snprintf(load_error, sizeof(load_error), "the OpenCL library lacks %s", #name);         \
            return;                                                                                 \
        }                                                                                           \
    } while (0)
    CDSK_RESOLVE(clGetPlatformIDs, 1);
    CDSK_RESOLVE(clGetPlatformInfo, 1);
    CDSK_RESOLVE(clGetDeviceIDs, 1);
    CDSK_RESOLVE(clGetDeviceInfo, 1);
    CDSK_RESOLVE(clCreateContext, 1);
    CDSK_RESOLVE(clReleaseContext, 1);
    CDSK_RESOLVE(clCreateCommandQueue, 1);
    CDSK_RESOLVE(clCreateCommandQueueWithProperties, 0);
    CDSK_RESOLVE(clReleaseCommandQueue, 1);
    CDSK_RESOLVE(clCreateBuffer, 1);
    CDSK_RESOLVE(clReleaseMemObject, 1);
    CDSK_RESOLVE(clEnqueueReadBuffer, 1);
    CDSK_RESOLVE(clEnqueueWriteBuffer, 1);
    CDSK_RESOLVE(clEnqueueMapBuffer, 1);
    CDSK_RESOLVE(clEnqueueUnmapMemObject, 1);
    CDSK_RESOLVE(clCreateProgramWithSource, 1);
    CDSK_RESOLVE(clBuildProgram, 1);
    CDSK_RESOLVE(clGetProgramBuildInfo, 1);
    CDSK_RESOLVE(clReleaseProgram, 1);
    CDSK_RESOLVE(clCreateKernel, 1);
    CDSK_RESOLVE(clReleaseKernel, 1);
    CDSK_RESOLVE(clSetKernelArg, 1);
    CDSK_RESOLVE(clEnqueueNDRangeKernel, 1);
    CDSK_RESOLVE(clFinish, 1);
    CDSK_RESOLVE(clWaitForEvents, 1);
    CDSK_RESOLVE(clReleaseEvent, 1);
    CDSK_RESOLVE(clGetEventProfilingInfo, 1);
#undef CDSK_RESOLVE
    loaded = &api;
}

const cdsk_opencl_api *cdsk_opencl_api_get(void) {
    pthread_once(&load_once, cdsk_opencl_load);
    return loaded;
}

const char *cdsk_opencl_load_error(void) {
    return load_error;
}

const char *cdsk_opencl_error_name(cl_int code) {
    switch (code) {
#define CDSK_NAME(c) \
    case c: return #c;
        CDSK_NAME(CL_SUCCESS)
        CDSK_NAME(CL_DEVICE_NOT_FOUND)
        CDSK_NAME(CL_DEVICE_NOT_AVAILABLE)
        CDSK_NAME(CL_COMPILER_NOT_AVAILABLE)
        CDSK_NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        CDSK_NAME(CL_OUT_OF_RESOURCES)
        CDSK_NAME(CL_OUT_OF_HOST_MEMORY)
        CDSK_NAME(CL_PROFILING_INFO_NOT_AVAILABLE)
        CDSK_NAME(CL_MEM_COPY_OVERLAP)
        CDSK_NAME(CL_IMAGE_FORMAT_MISMATCH)
        CDSK_NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        CDSK_NAME(CL_BUILD_PROGRAM_FAILURE)
        CDSK_NAME(CL_MAP_FAILURE)
        CDSK_NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        CDSK_NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        CDSK_NAME(CL_COMPILE_PROGRAM_FAILURE)
        CDSK_NAME(CL_LINKER_NOT_AVAILABLE)
        CDSK_NAME(CL_LINK_PROGRAM_FAILURE)
        CDSK_NAME(CL_DEVICE_PARTITION_FAILED)
        CDSK_NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        CDSK_NAME(CL_INVALID_VALUE)
        CDSK_NAME(CL_INVALID_DEVICE_TYPE)
        CDSK_NAME(CL_INVALID_PLATFORM)
        CDSK_NAME(CL_INVALID_DEVICE)
        CDSK_NAME(CL_INVALID_CONTEXT)
        CDSK_NAME(CL_INVALID_QUEUE_PROPERTIES)
        CDSK_NAME(CL_INVALID_COMMAND_QUEUE)
        CDSK_NAME(CL_INVALID_HOST_PTR)
        CDSK_NAME(CL_INVALID_MEM_OBJECT)
        CDSK_NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        CDSK_NAME(CL_INVALID_IMAGE_SIZE)
        CDSK_NAME(CL_INVALID_SAMPLER)
        CDSK_NAME(CL_INVALID_BINARY)
        CDSK_NAME(CL_INVALID_BUILD_OPTIONS)
        CDSK_NAME(CL_INVALID_PROGRAM)
        CDSK_NAME(CL_INVALID_PROGRAM_EXECUTABLE)
        CDSK_NAME(CL_INVALID_KERNEL_NAME)
        CDSK_NAME(CL_INVALID_KERNEL_DEFINITION)
        CDSK_NAME(CL_INVALID_KERNEL)
        CDSK_NAME(CL_INVALID_ARG_INDEX)
        CDSK_NAME(CL_INVALID_ARG_VALUE)
        CDSK_NAME(CL_INVALID_ARG_SIZE)
        CDSK_NAME(CL_INVALID_KERNEL_ARGS)
        CDSK_NAME(CL_INVALID_WORK_DIMENSION)
        CDSK_NAME(CL_INVALID_WORK_GROUP_SIZE)
        CDSK_NAME(CL_INVALID_WORK_ITEM_SIZE)
        CDSK_NAME(CL_INVALID_GLOBAL_OFFSET)
        CDSK_NAME(CL_INVALID_EVENT_WAIT_LIST)
        CDSK_NAME(CL_INVALID_EVENT)
        CDSK_NAME(CL_INVALID_OPERATION)
        CDSK_NAME(CL_INVALID_GL_OBJECT)
        CDSK_NAME(CL_INVALID_BUFFER_SIZE)
        CDSK_NAME(CL_INVALID_MIP_LEVEL)
        CDSK_NAME(CL_INVALID_GLOBAL_WORK_SIZE)
        CDSK_NAME(CL_INVALID_PROPERTY)
        CDSK_NAME(CL_INVALID_IMAGE_DESCRIPTOR)
        CDSK_NAME(CL_INVALID_COMPILER_OPTIONS)
        CDSK_NAME(CL_INVALID_LINKER_OPTIONS)
        CDSK_NAME(CL_INVALID_DEVICE_PARTITION_COUNT)
        CDSK_NAME(CL_INVALID_PIPE_SIZE)
        CDSK_NAME(CL_INVALID_DEVICE_QUEUE)
        CDSK_NAME(CL_INVALID_SPEC_ID)
        CDSK_NAME(CL_MAX_SIZE_RESTRICTION_EXCEEDED)
#undef CDSK_NAME
    default: return "CL_UNKNOWN_ERROR";
    }
}
