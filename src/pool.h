/*
 * pool.h -- the threads that share one product (or one element-wise loop)
 * within a training step, for fastbp: defines fbp_pool_run and
 * fbp_pool_in_parallel_region.
 *
 *   fbp_pool_run(threads, chunks, fn, ctx): fn(ctx, chunk, worker) for every
 *   chunk 0 .. chunks-1, each chunk run once, by the calling thread (worker 0)
 *   or by one of threads - 1 pool workers (1 .. threads-1), whichever claims
 *   it first; returns when every chunk is done.
 *
 * Why not an OpenMP parallel region: a region ends in a barrier that waits
 * for every thread of the team, including one that has not even started
 * because another process holds its core. A minibatch step opens a few such
 * regions, each a fraction of a millisecond long, so on a machine where
 * another process is busy two threads were slower than one. Here a worker
 * that is late for a job finds its chunks taken and does nothing; the caller
 * waits only for chunks a worker has claimed and not yet finished, at most
 * one chunk per worker. Which thread runs a chunk never changes its result:
 * the callers make every output the work of one chunk, computed in a fixed
 * order (gemm.h), so the bits do not depend on the threads.
 *
 * Workers spin briefly after a job (FBP_POOL_SPINS), catching the step's next
 * product, then sleep on a condition variable. The pool starts its workers
 * on first use and keeps them; a forked child starts with none (the parent's
 * workers do not exist there) and makes its own. A job submitted while
 * another thread of the process runs one (two training calls at once) runs
 * on its caller alone. Inside an OpenMP parallel region (the slabs of a full
 * batch, passes.pxi) every job runs on its caller: the slabs already use the
 * threads.
 *
 * Where the pool is not built: with OpenMP but without POSIX threads and
 * GCC-style atomics (MSVC), the chunks are shared by an OpenMP region as
 * before; a build without OpenMP trains on one thread, and fbp_pool_run runs
 * every chunk on the caller.
 */
#ifndef FASTBP_POOL_H
#define FASTBP_POOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#endif

typedef void (*fbp_chunk_fn)(void *ctx, ptrdiff_t chunk, int worker);

/* Whether the caller runs inside an OpenMP parallel region, where several
 * threads may each run their own jobs at once (each on its caller alone). */
static inline int fbp_pool_in_parallel_region(void)
{
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return 0;
#endif
}

#if defined(_OPENMP) && (defined(__unix__) || defined(__APPLE__)) && (defined(__GNUC__) || defined(__clang__))
#define FBP_POOL 1
#include <pthread.h>
#include <sched.h>

/* Workers at most (threads - 1 of the largest team asked for). */
#define FBP_POOL_MAX_WORKERS 255
/* Busy-wait iterations of a worker after a job before it sleeps: about 0.1 ms,
 * longer than the gap between the products of one step, much shorter than a
 * step; the caller's wait for claimed chunks spins as long before it yields. */
#define FBP_POOL_SPINS 2000

#if defined(__x86_64__) || defined(__i386__)
#define FBP_POOL_PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define FBP_POOL_PAUSE() __asm__ __volatile__("yield")
#else
#define FBP_POOL_PAUSE() ((void)0)
#endif

#define FBP_LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define FBP_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define FBP_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)

/* The job's generation is even while a job is published and stable, odd while
 * the caller rewrites it; a worker joins job g by counting itself in active
 * and then finding the generation still g, and the caller rewrites the job only
 * once active is 0, so a worker never reads half of one job and half of the next. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    unsigned long generation;
    int workers;        /* started */
    int sleeping;       /* waiting on wake */
    int active;         /* inside the current job */
    int busy;           /* a caller is running a job */
    int at_fork_set;
    fbp_chunk_fn fn;    /* the job */
    void *ctx;
    ptrdiff_t chunks;
    int invited;        /* workers 1 .. invited take part */
    ptrdiff_t next;     /* the next chunk to claim */
    ptrdiff_t done;     /* chunks finished */
} fbp_pool_t;

static fbp_pool_t fbp_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0,
                              NULL, NULL, 0, 0, 0, 0};

/* claim and run chunks of the published job until none is left */
static void fbp_pool_work(int worker)
{
    fbp_chunk_fn fn = fbp_pool.fn;
    void *ctx = fbp_pool.ctx;
    ptrdiff_t chunks = fbp_pool.chunks;
    for (;;) {
        ptrdiff_t chunk = FBP_ADD(&fbp_pool.next, 1);
        if (chunk >= chunks)
            return;
        fn(ctx, chunk, worker);
        FBP_ADD(&fbp_pool.done, 1);
    }
}

static void *fbp_pool_worker(void *arg)
{
    int worker = (int)(intptr_t)arg;
    unsigned long seen = FBP_LOAD(&fbp_pool.generation);
    for (;;) {
        unsigned long g;
        int spins = 0;
        while ((g = FBP_LOAD(&fbp_pool.generation)) == seen || (g & 1)) {
            if (++spins < FBP_POOL_SPINS) {
                FBP_POOL_PAUSE();
                continue;
            }
            pthread_mutex_lock(&fbp_pool.lock);
            FBP_ADD(&fbp_pool.sleeping, 1);
            while ((g = FBP_LOAD(&fbp_pool.generation)) == seen || (g & 1))
                pthread_cond_wait(&fbp_pool.wake, &fbp_pool.lock);
            FBP_ADD(&fbp_pool.sleeping, -1);
            pthread_mutex_unlock(&fbp_pool.lock);
            spins = 0;
        }
        FBP_ADD(&fbp_pool.active, 1);
        if (FBP_LOAD(&fbp_pool.generation) == g) {
            if (worker <= fbp_pool.invited)
                fbp_pool_work(worker);
            seen = g;
        }
        FBP_ADD(&fbp_pool.active, -1);
    }
    return NULL;
}

/* In a forked child the parent's workers do not exist: start again from none. */
static void fbp_pool_after_fork_in_child(void)
{
    pthread_mutex_t fresh_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_wake = PTHREAD_COND_INITIALIZER;
    fbp_pool.lock = fresh_lock;
    fbp_pool.wake = fresh_wake;
    fbp_pool.workers = fbp_pool.sleeping = fbp_pool.active = fbp_pool.busy = 0;
    fbp_pool.generation = 0;
}

/* start workers up to want (called by the job's caller, busy held) */
static void fbp_pool_start(int want)
{
    if (!fbp_pool.at_fork_set) {
        pthread_atfork(NULL, NULL, fbp_pool_after_fork_in_child);
        fbp_pool.at_fork_set = 1;
    }
    while (fbp_pool.workers < want) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, fbp_pool_worker, (void *)(intptr_t)(fbp_pool.workers + 1));
        pthread_attr_destroy(&attr);
        if (failed)
            return;  /* fewer workers: the caller takes their chunks */
        fbp_pool.workers++;
    }
}

static void fbp_pool_run(int threads, ptrdiff_t chunks, fbp_chunk_fn fn, void *ctx)
{
    int free_pool = 0;
    if (threads > 1 && chunks > 1 && !omp_in_parallel())
        free_pool = __atomic_exchange_n(&fbp_pool.busy, 1, __ATOMIC_SEQ_CST) == 0;
    if (!free_pool) {
        for (ptrdiff_t chunk = 0; chunk < chunks; chunk++)
            fn(ctx, chunk, 0);
        return;
    }
    int want = threads - 1 < FBP_POOL_MAX_WORKERS ? threads - 1 : FBP_POOL_MAX_WORKERS;
    fbp_pool_start(want);
    /* publish: odd generation, wait until the last job's workers have left, rewrite, even generation */
    unsigned long g = FBP_LOAD(&fbp_pool.generation);
    FBP_STORE(&fbp_pool.generation, g + 1);
    for (int spins = 0; FBP_LOAD(&fbp_pool.active) != 0; spins++) {
        if (spins < FBP_POOL_SPINS)
            FBP_POOL_PAUSE();
        else
            sched_yield();
    }
    fbp_pool.fn = fn;
    fbp_pool.ctx = ctx;
    fbp_pool.chunks = chunks;
    fbp_pool.invited = want < fbp_pool.workers ? want : fbp_pool.workers;
    FBP_STORE(&fbp_pool.next, 0);
    FBP_STORE(&fbp_pool.done, 0);
    FBP_STORE(&fbp_pool.generation, g + 2);
    if (FBP_LOAD(&fbp_pool.sleeping) > 0) {
        pthread_mutex_lock(&fbp_pool.lock);
        pthread_cond_broadcast(&fbp_pool.wake);
        pthread_mutex_unlock(&fbp_pool.lock);
    }
    fbp_pool_work(0);
    /* the chunks claimed by workers and not yet done */
    for (int spins = 0; FBP_LOAD(&fbp_pool.done) < chunks; spins++) {
        if (spins < FBP_POOL_SPINS)
            FBP_POOL_PAUSE();
        else
            sched_yield();
    }
    FBP_STORE(&fbp_pool.busy, 0);
}

#undef FBP_LOAD
#undef FBP_STORE
#undef FBP_ADD

#elif defined(_OPENMP) /* no POSIX threads (MSVC): an OpenMP region, which waits for a late thread */

static void fbp_pool_run(int threads, ptrdiff_t chunks, fbp_chunk_fn fn, void *ctx)
{
    if (threads > 1 && chunks > 1 && !omp_in_parallel()) {
        ptrdiff_t chunk;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
        for (chunk = 0; chunk < chunks; chunk++)
            fn(ctx, chunk, omp_get_thread_num());
        return;
    }
    for (ptrdiff_t chunk = 0; chunk < chunks; chunk++)
        fn(ctx, chunk, 0);
}

#else /* no threads at all: every chunk on the caller */

static void fbp_pool_run(int threads, ptrdiff_t chunks, fbp_chunk_fn fn, void *ctx)
{
    (void)threads;
    for (ptrdiff_t chunk = 0; chunk < chunks; chunk++)
        fn(ctx, chunk, 0);
}

#endif

#endif /* FASTBP_POOL_H */
