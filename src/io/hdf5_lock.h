/* One process-wide lock for HDF5 calls.
 *
 * The HDF5 lamina links (libhdf5-openmpi) is built without thread safety:
 * two threads inside the library at once corrupt its global state. The
 * out-of-core readers call HDF5 on the prefetcher's I/O thread while the
 * trainer's thread may save or load a checkpoint or evaluate, so every
 * HDF5 use that can overlap the I/O thread takes this lock: the row
 * readers (io/hdf5_rows.c) around each read, the checkpoint module around
 * save and load. The lock is recursive, so a locked function may call
 * another that locks. Setup code that runs before any I/O thread exists
 * (the in-memory loader, the data tools) need not take it. */
#ifndef LMN_IO_HDF5_LOCK_H
#define LMN_IO_HDF5_LOCK_H

void lmn_hdf5_lock(void);
void lmn_hdf5_unlock(void);

#endif
