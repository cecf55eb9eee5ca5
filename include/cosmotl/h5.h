/* Small HDF5 helpers shared by every module that writes or reads HDF5:
 * attributes, whole-dataset reads/writes from one rank, and the record of the
 * settings used. All return ct_status with the file and object named on error. */
#ifndef COSMOTL_H5_H
#define COSMOTL_H5_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "cosmotl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Silence HDF5's own error-stack printing (cosmotl reports errors itself). */
void ct_h5_quiet(void);

/* Object creation property lists without time stamps: HDF5 stores a
 * modification time in every dataset's and group's header by default, so two
 * runs with identical data would differ in bytes. Every writer uses these
 * (resumed outputs are byte-identical to uninterrupted ones). Caller closes. */
hid_t ct_h5_dcpl(void);
hid_t ct_h5_gcpl(void);

/* A file built in memory (HDF5's core driver) and written with one checked write:
 * a full disk is an ordinary error (an HDF5 file on disk whose close fails stays
 * in HDF5's tables and crashes the library's shutdown). ct_h5_mem_save closes
 * file, writes its image to tmp, fsyncs and renames tmp onto final_path; on error
 * tmp is removed. */
ct_status ct_h5_mem_create(hid_t *file);
ct_status ct_h5_mem_save(hid_t file, const char *tmp, const char *final_path);

/* Create (truncate) / open read-only a file, serial access. */
ct_status ct_h5_create(const char *path, hid_t *file);
ct_status ct_h5_open_ro(const char *path, hid_t *file);
/* Create intermediate groups as needed ("a/b/c"); returns an open group. */
ct_status ct_h5_group(hid_t loc, const char *path, hid_t *group);
int ct_h5_exists(hid_t loc, const char *path);

ct_status ct_h5_attr_double(hid_t loc, const char *name, double v);
ct_status ct_h5_attr_doubles(hid_t loc, const char *name, const double *v, size_t n);
ct_status ct_h5_attr_int(hid_t loc, const char *name, long long v);
ct_status ct_h5_attr_string(hid_t loc, const char *name, const char *v);
ct_status ct_h5_read_attr_double(hid_t loc, const char *name, double *v);
ct_status ct_h5_read_attr_int(hid_t loc, const char *name, long long *v);
/* Reads into buf (capacity cap, NUL-terminated); a string longer than cap - 1
 * characters is an error naming the object and the attribute (never cut). */
ct_status ct_h5_read_attr_string(hid_t loc, const char *name, char *buf, size_t cap);

/* Write a contiguous row-major double array of rank 1 or 2 (dims[0] x dims[1]). */
ct_status ct_h5_write_doubles(hid_t loc, const char *name, const double *v, int rank,
                              const hsize_t *dims);
ct_status ct_h5_write_int64s(hid_t loc, const char *name, const int64_t *v, int rank,
                             const hsize_t *dims);
/* Read a whole numeric dataset converted to double; allocates *v; dims gets up to
 * 2 extents (*rank set). */
ct_status ct_h5_read_doubles(hid_t loc, const char *name, double **v, int *rank,
                             hsize_t dims[2]);
ct_status ct_h5_read_int64s(hid_t loc, const char *name, int64_t **v, int *rank,
                            hsize_t dims[2]);

/* Refuse (one line naming file and dataset), before anything is allocated for
 * it, an open dataset whose declared size cannot be real: contiguous storage
 * larger than the whole file, data kept in other files (external or virtual
 * storage), or chunked/compact data needing more than CT_H5_MAX_EXPANSION
 * times the file size in memory (deflate's largest ratio is about 1032:1),
 * with CT_H5_MIN_BOUND as the floor for small files. mem_elsize is the size of
 * one element in memory (0: as stored). */
#define CT_H5_MAX_EXPANSION 1100
#define CT_H5_MIN_BOUND ((uint64_t)64 << 20)
ct_status ct_h5_check_dataset_size(hid_t d, const char *file, const char *name,
                                   size_t mem_elsize);

/* Before reading variable-length data (strings h5py writes) of the file of loc:
 * refuse (one line naming the file) a global heap collection that HDF5 1.10.8
 * would decode in an endless loop or past its buffer. ct_h5_read_attr_string
 * calls it; readers of other variable-length data call it themselves. */
ct_status ct_h5_check_heaps(hid_t loc);

/* Before HDF5 decodes the attributes of the object loc (H5Aexists, H5Aopen,
 * H5Aiterate): refuse (one line naming the file and the byte) an attribute
 * message of its object header whose stored lengths would make HDF5 1.10.8
 * read past the header. ct_h5_attr_exists runs the check and then H5Aexists:
 * 1 present, 0 absent, -1 corrupt (error set). Every reader of attributes from
 * files cosmotl did not just write uses one of them. */
ct_status ct_h5_check_attrs(hid_t loc);
/* Every object reachable by hard links from the root of file: its object
 * header's chunks lie inside the file (HDF5 1.10.8 allocates a chunk at its
 * declared size before reading it: 4 GiB from a corrupt header). One line
 * naming the file and the byte otherwise. ct_h5_open_ro calls it. */
ct_status ct_h5_check_headers(hid_t file);
/* Before H5Fopen: the root group's object header (which H5Fopen loads itself),
 * found through the superblock on the raw bytes, has its chunks inside the file.
 * One line naming the file and the byte otherwise. ct_h5_open_ro calls it. */
ct_status ct_h5_check_root(const char *path);
int ct_h5_attr_exists(hid_t loc, const char *name);

/* Store every setting a ct_config handed out as string attributes of a group
 * "settings" under loc ("section.key" = value), plus the config path. */
ct_status ct_h5_write_config(hid_t loc, const ct_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
