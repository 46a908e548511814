#ifndef CFILESPACE_H
#define CFILESPACE_H

/// Deallocates `length` bytes of an open file at `offset` without changing its size
/// (Linux `fallocate` with FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): the range then reads as
/// zeros and its blocks are given back to the file system; partial blocks at the ends are zeroed.
/// Returns 0, or -1 with errno set (EOPNOTSUPP where the file system cannot punch holes).
/// Glibc declares `fallocate` only under _GNU_SOURCE, which Swift's Glibc module does not set;
/// hence this C function.
int mailroom_punch_hole(int fd, long long offset, long long length);

#endif
