// CPU feature detection with cpuid/xgetbv (see the header for why this lives in C).
#include "CDeepseekBLAS.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

// XCR0 says which register files the OS saves on a context switch; an instruction set is usable
// only when the CPU has it *and* the OS enabled its state (a hypervisor may hide AVX-512 state).
static uint64_t cdsk_xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void cdsk_cpu_detect(cdsk_cpu_features *out) {
    memset(out, 0, sizeof(*out));
    out->is_x86 = 1;
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return;
    unsigned int max_leaf = eax;
    memcpy(out->vendor + 0, &ebx, 4);
    memcpy(out->vendor + 4, &edx, 4);
    memcpy(out->vendor + 8, &ecx, 4);
    out->vendor[12] = 0;

    __get_cpuid(1, &eax, &ebx, &ecx, &edx);
    unsigned int base_family = (eax >> 8) & 0xf;
    unsigned int base_model = (eax >> 4) & 0xf;
    unsigned int ext_family = (eax >> 20) & 0xff;
    unsigned int ext_model = (eax >> 16) & 0xf;
    out->family = (int)(base_family == 0xf ? base_family + ext_family : base_family);
    out->model = (int)((base_family == 0x6 || base_family == 0xf) ? (ext_model << 4) + base_model : base_model);
    out->stepping = (int)(eax & 0xf);

    int osxsave = (ecx >> 27) & 1;
    uint64_t xcr0 = osxsave ? cdsk_xgetbv0() : 0;
    int os_avx = (xcr0 & 0x6) == 0x6;              // SSE and AVX (YMM) state
    int os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM state

    out->sse4_2 = (ecx >> 20) & 1;
    out->avx = os_avx && ((ecx >> 28) & 1);
    out->fma = out->avx && ((ecx >> 12) & 1);
    out->f16c = out->avx && ((ecx >> 29) & 1);

    if (max_leaf >= 7) {
        __cpuid_count(7, 0, eax, ebx, ecx, edx);
        unsigned int leaf7_max_sub = eax;
        out->avx2 = out->avx && ((ebx >> 5) & 1);
        out->avx512f = os_avx512 && ((ebx >> 16) & 1);
        out->avx512dq = out->avx512f && ((ebx >> 17) & 1);
        out->avx512bw = out->avx512f && ((ebx >> 30) & 1);
        out->avx512vl = out->avx512f && ((ebx >> 31) & 1);
        if (leaf7_max_sub >= 1) {
            __cpuid_count(7, 1, eax, ebx, ecx, edx);
            out->avx512_bf16 = out->avx512f && ((eax >> 5) & 1);
        }
    }
}

#else

void cdsk_cpu_detect(cdsk_cpu_features *out) { memset(out, 0, sizeof(*out)); }

#endif
