/* Shared by the libFuzzer harnesses (tests/fuzz/README.md).
 *
 * Inputs reach the library through its ordinary path-taking entry points:
 * each input is copied into an anonymous in-memory file (memfd_create) and
 * passed as /proc/self/fd/N. So the harnesses test exactly the code that
 * reads real files (one code path for file and memory, no test-only entry
 * points), with no disk traffic per execution. HDF5 inputs are the
 * exception: see fuzz_file_open_tmpfs. */
#ifndef LMN_FUZZ_COMMON_H
#define LMN_FUZZ_COMMON_H
#define _GNU_SOURCE 1
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mpi.h>
#include <sanitizer/lsan_interface.h>

#include "comm/comm.h"
#include "io/hdf5_dataset.h"

/* An in-memory file holding data; path names it. Close with fuzz_file_close. */
typedef struct fuzz_file {
    int fd;
    char path[64];
} fuzz_file;

static inline int fuzz_file_open(fuzz_file *f, const uint8_t *data, size_t size)
{
    f->fd = memfd_create("lamina-fuzz", 0);
    if (f->fd < 0) {
        perror("memfd_create");
        abort();
    }
    size_t done = 0;
    while (done < size) {
        const ssize_t n = write(f->fd, data + done, size - done);
        if (n <= 0) {
            perror("write");
            abort();
        }
        done += (size_t)n;
    }
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
    return 0;
}

/* HDF5 resolves a file's real path when it opens it, and that of a memfd
 * ("/memfd:... (deleted)") does not exist: HDF5 inputs go to a file on
 * /dev/shm (tmpfs, memory as well) instead. Its name is fixed per process:
 * each input overwrites the last. */
static inline int fuzz_file_open_tmpfs(fuzz_file *f, const uint8_t *data, size_t size)
{
    snprintf(f->path, sizeof f->path, "/dev/shm/lamina-fuzz-%d.h5", (int)getpid());
    FILE *out = fopen(f->path, "wb");
    if (!out || fwrite(data, 1, size, out) != size || fclose(out) != 0) {
        perror(f->path);
        abort();
    }
    f->fd = -1;
    return 0;
}

static inline void fuzz_file_close(fuzz_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    else
        unlink(f->path);
    f->fd = -1;
}

/* A singleton MPI_Init: the readers that take a communicator use
 * MPI_COMM_SELF, so no mpirun is needed (as root, OpenMPI also wants
 * OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1). MPI is never
 * finalized: libFuzzer exits from inside its loop. */
static inline void fuzz_init_mpi(void)
{
    static int done;
    if (done) return;
    done = 1;
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    /* What OpenMPI allocates at start-up it keeps for the process, partly in
     * components it unloads again (so LeakSanitizer cannot even name them):
     * not leaks of any input. */
    __lsan_disable();
    if (lmn_mpi_init(NULL, NULL) != LMN_OK) abort();
    lmn_hdf5_silence_errors();
    __lsan_enable();
}

/* Harnesses that use MPI or HDF5 feed one valid file through their body in
 * LLVMFuzzerInitialize, before the first input: MPI and HDF5 set up parts
 * of themselves lazily on first use (the MPI-IO component, a collective's
 * algorithm, HDF5's free lists) and keep them for the process, which
 * LeakSanitizer would otherwise blame on whichever input came first. */
static inline void fuzz_warm_up(const char *path, int (*body)(const uint8_t *, size_t))
{
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    fseek(f, 0, SEEK_END);
    const size_t size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc(size + 1);
    if (fread(bytes, 1, size, f) != size) abort();
    fclose(f);
    __lsan_disable();
    body(bytes, size);
    __lsan_enable();
    free(bytes);
    unlink(path);
}

/* A fresh file name under /dev/shm for warm-up files. */
static inline void fuzz_temp_path(char *out, size_t capacity, const char *name)
{
    snprintf(out, capacity, "/dev/shm/lamina-fuzz-%d-%s", (int)getpid(), name);
}

#endif
