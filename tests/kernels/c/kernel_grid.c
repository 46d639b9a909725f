/*
 * kernel_grid.c -- the C kernels' results on a grid of inputs, printed as hex.
 *
 *   kernel_grid [baseline|avx2|avx512]     (default: the path the CPU would pick)
 *
 * Runs src/vecmath.h's exp, tanh, sigmoid (float64 and float32) and
 * src/tiled_products.h's combine, correlate and fold_lanes (float64 and float32) on
 * the given dispatch path and prints every result's bits, one line per array
 * or output row. tools/check_portable_kernels.sh builds it for x86-64 and for
 * AArch64 (gcc-aarch64-linux-gnu, run under qemu-aarch64) and requires the
 * AArch64 output to equal the x86 FMA paths' (AVX2, AVX-512) byte for byte:
 * AArch64 fuses each multiply-add as those paths do, and every other
 * operation is the same IEEE operation in the same order.
 *
 * The grid covers every branch of the element functions (each side of every
 * clamp and of tanh's small/large switch, subnormals, +-0, +-inf, NaN, the
 * overflow and underflow edges) and every shape class of the tiled products
 * on every target: full tiles, each size of the rest tile (1 to 5 rows),
 * full vector columns, single vectors and the scalar tail of each width,
 * both loop orders of correlate (num_a >= num_b and <), lanes carried over two
 * blocks. Inside the harness, the vector math of each element is also
 * computed alone (n = 1: the scalar epilogue) and in place (the stack-buffer
 * route) and must equal the vector loop's; a mismatch is printed and fails.
 *
 * Build with -ffp-contract=off, as setup.py builds the package: the compiler
 * must fuse nothing on its own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vecmath.h"
#include "tiled_products.h"

static int mismatches = 0;

/* ---------------------------------------------------------- data */

static unsigned long long lcg_state = 0x2545F4914F6CDD1DULL;

/* a double in [lo, hi), the same bits on every IEEE machine */
static double lcg_uniform(double lo, double hi)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    double unit = (double)(lcg_state >> 11) * 0x1p-53;
    return lo + unit * (hi - lo);
}

/* A NaN prints as "nan": IEEE 754 leaves the sign and payload of a NaN
 * result unspecified, and x86 and ARM (and one x86 loop and another, as the
 * compiler orders the operands) set them differently. Every other value
 * prints as its bits. */
static void print_doubles(const char *label, const double *values, ptrdiff_t n)
{
    fputs(label, stdout);
    for (ptrdiff_t i = 0; i < n; i++) {
        unsigned long long bits;
        if (isnan(values[i])) {
            fputs(" nan", stdout);
            continue;
        }
        memcpy(&bits, values + i, sizeof bits);
        printf(" %016llx", bits);
    }
    putchar('\n');
}

static void print_floats(const char *label, const float *values, ptrdiff_t n)
{
    fputs(label, stdout);
    for (ptrdiff_t i = 0; i < n; i++) {
        unsigned int bits;
        if (isnan(values[i])) {
            fputs(" nan", stdout);
            continue;
        }
        memcpy(&bits, values + i, sizeof bits);
        printf(" %08x", bits);
    }
    putchar('\n');
}

/* ---------------------------------------------------------- vector math */

#define MAX_POINTS 4096

/* The inputs: the edges of every branch, then regular and random grids. */
static ptrdiff_t vecmath_inputs(double *x)
{
    static const double edges[] = {
        0.0, -0.0, INFINITY, -INFINITY, NAN, -NAN,
        0x1p-1074, -0x1p-1074, 0x1.fffffffffffffp-1023, 0x1p-1022, -0x1p-1022, 0x1.fffffffffffffp+1023,
        0x1p-28, 0x1p-27, 0x1.0000000000001p-27, 1e-300, -1e-300, 1e-8, -1e-8,
        0.347, 0.34699999999999998, 0.34700000000000003, -0.347, 0.55, 0.549999, 0.550001, -0.55,
        0.5 * 0.6931471805599453, 0.6931471805599453, 1.0, -1.0, 2.0, 9.99, 10.0, 10.01, -10.0,
        19.99, 20.0, 20.01, -20.0, 21.0, 88.72, 88.73, 89.0, -103.0, -103.97, -104.0, -87.3,
        709.78, 709.7827128933840, 709.79, 710.0, 711.0, -708.39, -708.4, -709.06, -744.44,
        -745.13, -745.1332191019412, -745.14, -746.0, -750.0, 1e10, -1e10,
    };
    ptrdiff_t n = 0;
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        x[n++] = edges[i];
    for (int i = -800; i <= 800; i++)              /* [-40, 40] in steps of 0.05 */
        x[n++] = i * 0.05;
    for (int e = -60; e <= 10; e++) {              /* magnitudes 2^-60 .. 2^10, both signs */
        x[n++] = ldexp(1.3, e);
        x[n++] = -ldexp(1.7, e);
    }
    while (n < 2500)
        x[n++] = lcg_uniform(-6.0, 6.0);
    return n;
}

typedef void (*path_fn)(int, double *, const double *, ptrdiff_t);
typedef void (*pathf_fn)(int, float *, const float *, ptrdiff_t);

/* out and other equal element by element, any NaN equal to any NaN */
static int same_doubles(const double *out, const double *other, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        if (!(isnan(out[i]) && isnan(other[i])) && memcmp(out + i, other + i, sizeof(double)))
            return 0;
    return 1;
}

static int same_floats(const float *out, const float *other, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        if (!(isnan(out[i]) && isnan(other[i])) && memcmp(out + i, other + i, sizeof(float)))
            return 0;
    return 1;
}

static void check_vecmath(const char *name, path_fn fn, int path, const double *x, ptrdiff_t n)
{
    static double out[MAX_POINTS], alone[MAX_POINTS], in_place[MAX_POINTS];
    fn(path, out, x, n);
    memcpy(in_place, x, (size_t)n * sizeof(double));
    fn(path, in_place, in_place, n);
    for (ptrdiff_t i = 0; i < n; i++)
        fn(path, alone + i, x + i, 1);
    if (!same_doubles(out, in_place, n) || !same_doubles(out, alone, n)) {
        printf("MISMATCH %s: the vector loop, the in-place route and one element at a time differ\n", name);
        mismatches++;
    }
    print_doubles(name, out, n);
}

static void check_vecmathf(const char *name, pathf_fn fn, int path, const float *x, ptrdiff_t n)
{
    static float out[MAX_POINTS], alone[MAX_POINTS], in_place[MAX_POINTS];
    fn(path, out, x, n);
    memcpy(in_place, x, (size_t)n * sizeof(float));
    fn(path, in_place, in_place, n);
    for (ptrdiff_t i = 0; i < n; i++)
        fn(path, alone + i, x + i, 1);
    if (!same_floats(out, in_place, n) || !same_floats(out, alone, n)) {
        printf("MISMATCH %s: the vector loop, the in-place route and one element at a time differ\n", name);
        mismatches++;
    }
    print_floats(name, out, n);
}

static void vecmath_grid(int path)
{
    static double x[MAX_POINTS];
    static float xf[MAX_POINTS];
    ptrdiff_t n = vecmath_inputs(x);
    for (ptrdiff_t i = 0; i < n; i++)
        xf[i] = (float)x[i];
    print_doubles("inputs", x, n);
    check_vecmath("exp", fastbp_exp_path, path, x, n);
    check_vecmath("tanh", fastbp_tanh_path, path, x, n);
    check_vecmath("sigmoid", fastbp_sigmoid_path, path, x, n);
    check_vecmathf("expf", fastbp_expf_path, path, xf, n);
    check_vecmathf("tanhf", fastbp_tanhf_path, path, xf, n);
    check_vecmathf("sigmoidf", fastbp_sigmoidf_path, path, xf, n);
}

/* ---------------------------------------------------------- products */

/* samples per block: single elements, each vector width (2, 4, 8, 16 floats),
 * each tile column width (4, 8, 16, 32, 64) and the tails after them */
static const ptrdiff_t SAMPLES[] = {1, 2, 3, 5, 8, 13, 16, 17, 31, 33, 64, 71};
static const ptrdiff_t NUM_IN[] = {1, 2, 5, 9};
/* rows: every rest tile (1-5) after 0, 1 and 2 full tiles of 4 and 6 rows */
static const ptrdiff_t NUM_OUT[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 17};
#define COUNT(a) ((ptrdiff_t)(sizeof(a) / sizeof((a)[0])))

enum { MODE_BIAS, MODE_TANH, MODE_PLAIN };
static const char *const MODE_NAMES[] = {"bias", "tanh", "plain"};

#define PRODUCTS_GRID(REAL, SUFFIX, PRINT, COMBINE, CORRELATE, FOLD)                                           \
    static void products_grid_##SUFFIX(int path)                                                              \
    {                                                                                                         \
        char label[128];                                                                                      \
        for (int s = 0; s < COUNT(SAMPLES); s++)                                                              \
            for (int q = 0; q < COUNT(NUM_IN); q++)                                                           \
                for (int r = 0; r < COUNT(NUM_OUT); r++)                                                      \
                    for (int mode = MODE_BIAS; mode <= MODE_PLAIN; mode++) {                                  \
                        ptrdiff_t n = SAMPLES[s], num_in = NUM_IN[q], num_out = NUM_OUT[r], ld = n + 3;       \
                        REAL *inp = malloc(sizeof(REAL) * num_in * ld);                                       \
                        REAL *weights = malloc(sizeof(REAL) * num_in * num_out);                              \
                        REAL *bias = malloc(sizeof(REAL) * num_out);                                          \
                        REAL *tanh_out = malloc(sizeof(REAL) * num_out * n);                                  \
                        REAL *out = malloc(sizeof(REAL) * num_out * n);                                       \
                        for (ptrdiff_t i = 0; i < num_in * ld; i++) inp[i] = (REAL)lcg_uniform(-2, 2);       \
                        for (ptrdiff_t i = 0; i < num_in * num_out; i++) weights[i] = (REAL)lcg_uniform(-1, 1); \
                        for (ptrdiff_t i = 0; i < num_out; i++) bias[i] = (REAL)lcg_uniform(-1, 1);          \
                        for (ptrdiff_t i = 0; i < num_out * n; i++) tanh_out[i] = (REAL)lcg_uniform(-1, 1);  \
                        /* dense_forward's weight layout for the bias mode, dense_backward_input's else */   \
                        ptrdiff_t weight_q = mode == MODE_BIAS ? num_out : 1;                                \
                        ptrdiff_t weight_r = mode == MODE_BIAS ? 1 : num_in;                                 \
                        COMBINE(path, out, inp, ld, weights, weight_q, weight_r,                             \
                                mode == MODE_BIAS ? bias : NULL, mode == MODE_TANH ? tanh_out : NULL, n,      \
                                num_in, num_out);                                                             \
                        for (ptrdiff_t row = 0; row < num_out; row++) {                                       \
                            snprintf(label, sizeof label, "combine_" #SUFFIX " n=%td in=%td out=%td %s row %td", \
                                     n, num_in, num_out, MODE_NAMES[mode], row);                             \
                            PRINT(label, out + row * n, n);                                                   \
                        }                                                                                     \
                        free(inp); free(weights); free(bias); free(tanh_out); free(out);                      \
                    }                                                                                         \
        /* two blocks of samples carried in the same lanes, then folded into a nonzero gradient */           \
        static const ptrdiff_t BLOCKS[][2] = {{1, 2}, {8, 8}, {17, 5}, {33, 64}, {71, 16}};                   \
        static const ptrdiff_t ROWS[] = {1, 2, 3, 4, 5, 6, 7, 13};                                            \
        for (int k = 0; k < COUNT(BLOCKS); k++)                                                               \
            for (int a = 0; a < COUNT(ROWS); a++)                                                             \
                for (int b = 0; b < COUNT(ROWS); b++) {                                                       \
                    ptrdiff_t num_a = ROWS[a], num_b = ROWS[b];                                               \
                    REAL *lanes = malloc(sizeof(REAL) * num_a * num_b * 16);                                  \
                    for (ptrdiff_t i = 0; i < num_a * num_b * 16; i++) lanes[i] = (REAL)NAN;                 \
                    REAL *grad = malloc(sizeof(REAL) * num_a * num_b);                                        \
                    for (ptrdiff_t i = 0; i < num_a * num_b; i++) grad[i] = (REAL)lcg_uniform(-1, 1);        \
                    for (int block = 0; block < 2; block++) {                                                 \
                        ptrdiff_t n = BLOCKS[k][block], ld_a = n + 1;                                         \
                        REAL *A = malloc(sizeof(REAL) * num_a * ld_a);                                        \
                        REAL *B = malloc(sizeof(REAL) * num_b * n);                                           \
                        for (ptrdiff_t i = 0; i < num_a * ld_a; i++) A[i] = (REAL)lcg_uniform(-2, 2);        \
                        for (ptrdiff_t i = 0; i < num_b * n; i++) B[i] = (REAL)lcg_uniform(-2, 2);           \
                        /* the first block starts the lanes from zero, never reading their NaN */           \
                        CORRELATE(path, lanes, A, ld_a, B, n, num_a, num_b, block == 0);                      \
                        free(A); free(B);                                                                     \
                    }                                                                                         \
                    FOLD(path, grad, lanes, num_a * num_b);                                                   \
                    snprintf(label, sizeof label, "correlate_" #SUFFIX " blocks=%td+%td a=%td b=%td",          \
                             BLOCKS[k][0], BLOCKS[k][1], num_a, num_b);                                       \
                    PRINT(label, grad, num_a * num_b);                                                        \
                    free(lanes); free(grad);                                                                  \
                }                                                                                             \
    }

PRODUCTS_GRID(double, d, print_doubles, fastbp_combine_features_path, fastbp_correlate_features_path,
              fastbp_fold_lanes_path)
PRODUCTS_GRID(float, f, print_floats, fastbp_combine_featuresf_path, fastbp_correlate_featuresf_path,
              fastbp_fold_lanesf_path)

int main(int argc, char **argv)
{
    int path = fastbp_best_path();
    if (argc > 1) {
        if (!strcmp(argv[1], "baseline"))
            path = FASTBP_PATH_BASELINE;
        else if (!strcmp(argv[1], "avx2"))
            path = FASTBP_PATH_AVX2;
        else if (!strcmp(argv[1], "avx512"))
            path = FASTBP_PATH_AVX512;
        else {
            fprintf(stderr, "usage: kernel_grid [baseline|avx2|avx512]\n");
            return 2;
        }
    }
    if (!fastbp_path_available(path)) {
        fprintf(stderr, "kernel_grid: this CPU cannot run path %s\n", argv[1]);
        return 77;
    }
    vecmath_grid(path);
    products_grid_d(path);
    products_grid_f(path);
    if (mismatches)
        fprintf(stderr, "kernel_grid: %d mismatches\n", mismatches);
    return mismatches ? 1 : 0;
}
