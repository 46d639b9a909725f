/*
 * pool.h -- the threads that share one product (or one element-wise loop)
 * within a training step, for fastbp: defines fbp_pool_run,
 * fbp_pool_in_parallel_region and the back-off from late workers
 * (fbp_backoff_t, fbp_backoff_replay for the tests).
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
 * A worker can still claim a chunk and then lose its core to another process
 * for a time slice (milliseconds), and the caller waits for that chunk. So
 * the caller times each job (its own chunks, then its wait for the workers'):
 * a wait of over FBP_POOL_LATE_NS and over twice its own work was a worker
 * taken off its core, and the next jobs run on the caller alone, 16 after
 * the first such wait, twice as many after each further one (up to 4096);
 * each job shared without such a wait shortens the next back-off by a quarter
 * (fbp_backoff_t). On a quiet machine no wait is that long and nothing
 * changes; with a busy neighbour, a step pays for a late worker now and
 * then instead of every few jobs. Which thread runs a chunk never changes a bit.
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

/* The back-off from late workers (above). A wait for claimed chunks is late
 * when it is longer than FBP_POOL_LATE_NS (a tenth of a time slice, far more
 * than a chunk of the products a minibatch step shares on a quiet machine) and
 * longer than twice the caller's own work in the job (so that a large job's
 * ordinary last chunk never counts). */
#define FBP_POOL_LATE_NS 200000
#define FBP_POOL_BACKOFF_FIRST 16
#define FBP_POOL_BACKOFF_MAX 4096

typedef struct {
    long penalty;   /* the back-off of the last late wait, shortened by each job shared on time */
    long skip;      /* the jobs still to run on the caller alone */
} fbp_backoff_t;

/* whether the next job runs on its caller alone (and counts it) */
static inline int fbp_backoff_skips(fbp_backoff_t *b)
{
    if (b->skip > 0) {
        b->skip--;
        return 1;
    }
    return 0;
}

/* after a shared job: the caller spent caller_ns on its own chunks, then wait_ns on the workers' */
static inline void fbp_backoff_after_job(fbp_backoff_t *b, long long caller_ns, long long wait_ns)
{
    if (wait_ns > FBP_POOL_LATE_NS && wait_ns > 2 * caller_ns) {
        b->penalty = b->penalty == 0 ? FBP_POOL_BACKOFF_FIRST
                   : b->penalty * 2 > FBP_POOL_BACKOFF_MAX ? FBP_POOL_BACKOFF_MAX : b->penalty * 2;
        b->skip = b->penalty;
    } else {
        b->penalty = b->penalty * 3 / 4;
    }
}

/* For the tests: the jobs run alone after each of jobs shared jobs with these timings, from a fresh state. */
static inline void fbp_backoff_replay(ptrdiff_t jobs, const long long *caller_ns, const long long *wait_ns,
                                      ptrdiff_t *skips)
{
    fbp_backoff_t b = {0, 0};
    for (ptrdiff_t i = 0; i < jobs; i++) {
        fbp_backoff_after_job(&b, caller_ns[i], wait_ns[i]);
        skips[i] = 0;
        while (fbp_backoff_skips(&b))
            skips[i]++;
    }
}

#if defined(_OPENMP) && (defined(__unix__) || defined(__APPLE__)) && (defined(__GNUC__) || defined(__clang__))
#define FBP_POOL 1
#include <time.h>
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
    fbp_backoff_t backoff;  /* read and written by the caller that holds busy */
} fbp_pool_t;

static fbp_pool_t fbp_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0,
                              NULL, NULL, 0, 0, 0, 0, {0, 0}};

static inline long long fbp_pool_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

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
    fbp_pool.backoff.penalty = fbp_pool.backoff.skip = 0;
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
    if (free_pool && fbp_backoff_skips(&fbp_pool.backoff)) {
        FBP_STORE(&fbp_pool.busy, 0);
        free_pool = 0;
    }
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
    long long started = fbp_pool_now_ns();
    fbp_pool_work(0);
    long long worked = fbp_pool_now_ns();
    /* the chunks claimed by workers and not yet done */
    for (int spins = 0; FBP_LOAD(&fbp_pool.done) < chunks; spins++) {
        if (spins < FBP_POOL_SPINS)
            FBP_POOL_PAUSE();
        else
            sched_yield();
    }
    fbp_backoff_after_job(&fbp_pool.backoff, worked - started, fbp_pool_now_ns() - worked);
    FBP_STORE(&fbp_pool.busy, 0);
}

/* For the tests: the back-off as fbp_pool_run applies it. From no back-off, one
 * job of two chunks in which a worker claims one and then stalls for stall_ns
 * (the caller, on the other, waits up to a second for that claim), then one
 * more job; the back-off's remaining jobs after each, or -1 where no worker
 * claimed a chunk. The pool is left with no back-off. */
typedef struct {
    int claimed;
    long long stall_ns;
} fbp_pool_stall_t;

static void fbp_pool_stall_chunk(void *ctx, ptrdiff_t chunk, int worker)
{
    fbp_pool_stall_t *stall = (fbp_pool_stall_t *)ctx;
    if (worker != 0) {
        FBP_STORE(&stall->claimed, 1);
        struct timespec t = {(time_t)(stall->stall_ns / 1000000000LL), (long)(stall->stall_ns % 1000000000LL)};
        nanosleep(&t, NULL);
    } else if (chunk == 0) {
        long long give_up = fbp_pool_now_ns() + 1000000000LL;
        while (!FBP_LOAD(&stall->claimed) && fbp_pool_now_ns() < give_up)
            sched_yield();
    }
}

static void fbp_pool_nothing(void *ctx, ptrdiff_t chunk, int worker)
{
    (void)ctx, (void)chunk, (void)worker;
}

static inline void fbp_pool_replay_stall(long long stall_ns, ptrdiff_t *skip_after_stall, ptrdiff_t *skip_after_next)
{
    fbp_pool_stall_t stall = {0, stall_ns};
    fbp_pool.backoff.penalty = fbp_pool.backoff.skip = 0;
    fbp_pool_run(2, 2, fbp_pool_stall_chunk, &stall);
    *skip_after_stall = stall.claimed ? fbp_pool.backoff.skip : -1;
    fbp_pool_run(2, 2, fbp_pool_nothing, NULL);
    *skip_after_next = stall.claimed ? fbp_pool.backoff.skip : -1;
    fbp_pool.backoff.penalty = fbp_pool.backoff.skip = 0;
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

#ifndef FBP_POOL
/* no pool: no back-off to replay (see above) */
static inline void fbp_pool_replay_stall(long long stall_ns, ptrdiff_t *skip_after_stall, ptrdiff_t *skip_after_next)
{
    (void)stall_ns;
    *skip_after_stall = *skip_after_next = -1;
}
#endif

#endif /* FASTBP_POOL_H */
