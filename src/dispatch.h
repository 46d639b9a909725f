/*
 * dispatch.h -- fastbp's one list of compiled targets, one CPU-feature probe
 * and one vocabulary of path names, used by every hot loop (vecmath.h,
 * tiled_products.h, loops.h) and every extension module.
 *
 * Defines:
 *   FASTBP_PATH_BASELINE, _AVX2, _AVX512    the path codes 0, 1, 2 (names in FASTBP_PATH_NAMES)
 *   FBP_X86_DISPATCH                        1 where the AVX2 and AVX-512 copies are compiled
 *   FBP_ATTR_AVX2, FBP_ATTR_AVX512          the target attributes of those copies
 *   FBP_PICK(FUNC, path)                    FUNC_baseline, FUNC_avx2 or FUNC_avx512
 *   fastbp_path_available(path)             1 if this CPU and OS run the path
 *   fastbp_best_path()                      the widest path available
 *
 * The targets. Every hot loop is compiled three times in the one module that
 * includes it: for the build's baseline (x86-64: SSE2, no FMA; any other
 * architecture: its own baseline), and, on x86 with GCC or Clang, once with
 * FBP_ATTR_AVX2 (AVX2 and FMA: Haswell, 2013, and later) and once with
 * FBP_ATTR_AVX512 (AVX-512 F, CD, DQ, BW, VL: Skylake-X, 2017, and later).
 * The caller passes the path; the choice is made once per training call
 * (src/paths.pxi: the path FASTBP_KERNELS names, checked, or fastbp_best_path()).
 *
 * The bits. The including translation unit is compiled with -ffp-contract=off
 * (setup.py), so no target fuses a multiply and an add unless the source says
 * fma; the vector width never changes the order of a sum. The AVX2 and AVX-512
 * copies therefore compute the same bits; the baseline copy differs only where
 * the source says fma (the tiled products and the vector math's polynomials),
 * which it computes as a multiply and an add, two roundings.
 *
 * Names: fastbp_* are the entry points the Cython side declares (each takes
 * the path first, or is path-independent); fbp_* are the helpers and the
 * per-target copies behind them (fbp_<loop>_<precision>_<path>).
 *
 * The probe reads the CPU's feature bits with cpuid (GCC/Clang's <cpuid.h>,
 * MSVC's __cpuidex) and asks the OS, through xgetbv, whether it saves the
 * YMM (and ZMM) registers; a CPU that has AVX-512 under an OS that does not
 * save its registers runs AVX2. With other compilers or architectures only
 * the baseline path exists.
 */
#ifndef FASTBP_DISPATCH_H
#define FASTBP_DISPATCH_H

#define FASTBP_PATH_BASELINE 0
#define FASTBP_PATH_AVX2 1
#define FASTBP_PATH_AVX512 2
#define FASTBP_NUM_PATHS 3
#define FASTBP_PATH_NAMES {"baseline", "avx2", "avx512"}

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define FBP_X86_DISPATCH 1
#define FBP_PROBE_GCC 1
#include <cpuid.h>
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#define FBP_X86_DISPATCH 0  /* MSVC has no per-function target: the baseline copy only */
#define FBP_PROBE_MSVC 1
#include <intrin.h>
#else
#define FBP_X86_DISPATCH 0
#endif

#if FBP_X86_DISPATCH
#define FBP_ATTR_AVX2 __attribute__((target("avx2,fma")))
#if defined(__clang__)
#define FBP_ATTR_AVX512 \
    __attribute__((target("avx512f,avx512cd,avx512dq,avx512bw,avx512vl,avx2,fma"), min_vector_width(512)))
#else
#define FBP_ATTR_AVX512 \
    __attribute__((target("avx512f,avx512cd,avx512dq,avx512bw,avx512vl,avx2,fma,prefer-vector-width=512")))
#endif
#define FBP_PICK(FUNC, PATH) \
    ((PATH) == FASTBP_PATH_AVX512 ? FUNC##_avx512 : (PATH) == FASTBP_PATH_AVX2 ? FUNC##_avx2 : FUNC##_baseline)
#else
#define FBP_PICK(FUNC, PATH) FUNC##_baseline
#endif

/* ------------------------------------------------------------ the probe */

/* cpuid leaf 1, ECX */
#define FBP_CPUID1_FMA (1u << 12)
#define FBP_CPUID1_OSXSAVE (1u << 27)
#define FBP_CPUID1_AVX (1u << 28)
/* cpuid leaf 7 (subleaf 0), EBX */
#define FBP_CPUID7_AVX2 (1u << 5)
#define FBP_CPUID7_AVX512F (1u << 16)
#define FBP_CPUID7_AVX512DQ (1u << 17)
#define FBP_CPUID7_AVX512CD (1u << 28)
#define FBP_CPUID7_AVX512BW (1u << 30)
#define FBP_CPUID7_AVX512VL (1u << 31)
/* xgetbv(0): the register states the OS saves: XMM and YMM; then opmask, ZMM 0-15 high halves, ZMM 16-31 */
#define FBP_XCR0_YMM 0x06u
#define FBP_XCR0_ZMM 0xe6u

/* leaf 1's ECX, leaf 7's EBX and XCR0 (0 where unknown), read from the CPU */
static inline void fbp_cpu_probe(unsigned *ecx1, unsigned *ebx7, unsigned *xcr0)
{
    *ecx1 = *ebx7 = *xcr0 = 0;
#if defined(FBP_PROBE_GCC)
    unsigned a, b, c, d;
    if (__get_cpuid(0, &a, &b, &c, &d) == 0)
        return;
    unsigned max_leaf = a;
    __get_cpuid(1, &a, &b, &c, &d);
    *ecx1 = c;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        *ebx7 = b;
    }
    if (*ecx1 & FBP_CPUID1_OSXSAVE) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        *xcr0 = lo;
    }
#elif defined(FBP_PROBE_MSVC)
    int regs[4];
    __cpuid(regs, 0);
    int max_leaf = regs[0];
    __cpuid(regs, 1);
    *ecx1 = (unsigned)regs[2];
    if (max_leaf >= 7) {
        __cpuidex(regs, 7, 0);
        *ebx7 = (unsigned)regs[1];
    }
    if (*ecx1 & FBP_CPUID1_OSXSAVE)
        *xcr0 = (unsigned)_xgetbv(0);
#endif
}

/* fbp_cpu_probe's three words, probed once per module: under a hypervisor
 * each cpuid instruction leaves the guest (a path check took 22 us on a KVM
 * guest, where the caller's work may take a few). Two threads that probe at
 * once store the same words. */
static inline void fbp_cpu_features(unsigned *ecx1, unsigned *ebx7, unsigned *xcr0)
{
    static volatile int probed = 0;
    static volatile unsigned words[3];
    if (!probed) {
        unsigned probe[3];
        fbp_cpu_probe(&probe[0], &probe[1], &probe[2]);
        words[0] = probe[0], words[1] = probe[1], words[2] = probe[2];
        probed = 1;
    }
    *ecx1 = words[0], *ebx7 = words[1], *xcr0 = words[2];
}

/* 1 if this CPU and OS run the path's instructions; 0 for an unknown path.
 * Whether the path was compiled is FBP_X86_DISPATCH's business (fastbp_path_built). */
static inline int fastbp_path_supported(int path)
{
    unsigned ecx1, ebx7, xcr0;
    const unsigned avx2 = FBP_CPUID7_AVX2;
    const unsigned avx512 = FBP_CPUID7_AVX512F | FBP_CPUID7_AVX512CD | FBP_CPUID7_AVX512DQ | FBP_CPUID7_AVX512BW
                            | FBP_CPUID7_AVX512VL;
    int has_avx2;
    if (path == FASTBP_PATH_BASELINE)
        return 1;
    if (path != FASTBP_PATH_AVX2 && path != FASTBP_PATH_AVX512)
        return 0;
    fbp_cpu_features(&ecx1, &ebx7, &xcr0);
    has_avx2 = (ecx1 & (FBP_CPUID1_AVX | FBP_CPUID1_FMA)) == (FBP_CPUID1_AVX | FBP_CPUID1_FMA)
               && (ebx7 & avx2) == avx2 && (xcr0 & FBP_XCR0_YMM) == FBP_XCR0_YMM;
    if (path == FASTBP_PATH_AVX2)
        return has_avx2;
    return has_avx2 && (ebx7 & avx512) == avx512 && (xcr0 & FBP_XCR0_ZMM) == FBP_XCR0_ZMM;
}

/* 1 if this build compiled the path's copies */
static inline int fastbp_path_built(int path)
{
    return path == FASTBP_PATH_BASELINE || (FBP_X86_DISPATCH && (path == FASTBP_PATH_AVX2 || path == FASTBP_PATH_AVX512));
}

/* 1 if the path can run here: built, and supported by the CPU and OS */
static inline int fastbp_path_available(int path)
{
    return fastbp_path_built(path) && fastbp_path_supported(path);
}

static inline int fastbp_best_path(void)
{
    int path;
    for (path = FASTBP_NUM_PATHS - 1; path > FASTBP_PATH_BASELINE; path--)
        if (fastbp_path_available(path))
            return path;
    return FASTBP_PATH_BASELINE;
}

#endif /* FASTBP_DISPATCH_H */
