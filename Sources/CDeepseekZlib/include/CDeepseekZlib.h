#ifndef CDEEPSEEK_ZLIB_H
#define CDEEPSEEK_ZLIB_H

// A small C layer between the data loaders and zlib.
//
// Why a shim: zlib's streaming API works on a `z_stream` struct that the caller must zero and
// then drive with `inflateInit2`/`deflateInit2`, which are macros (they pass the library version
// and the struct size), so Swift cannot call them at all. Its counters are 32-bit, so a buffer
// over 4 GiB must be fed in pieces. This header exposes whole-buffer calls on plain pointers and
// sizes instead; <zlib.h> stays inside the .c file.
//
// Conventions: every function returns CDEEPSEEK_Z_OK (0) on success, a positive code when the
// caller must act and call again, and a negative code on failure. Nothing aborts.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Result codes.
enum {
    /// Done; `*output_length` holds the number of bytes written.
    CDEEPSEEK_Z_OK = 0,
    /// The output buffer is too small; `*output_length` holds the exact size needed. Nothing
    /// useful is in the buffer: grow it and call again.
    CDEEPSEEK_Z_NEED_SPACE = 1,
    /// The input is not a gzip or zlib stream, or it is corrupt (bad header, bad block, checksum
    /// mismatch).
    CDEEPSEEK_Z_DATA_ERROR = -1,
    /// The input ends before the compressed stream does.
    CDEEPSEEK_Z_TRUNCATED = -2,
    /// Bytes that are not another gzip member follow the end of the stream.
    CDEEPSEEK_Z_TRAILING_DATA = -3,
    /// zlib could not allocate its working memory.
    CDEEPSEEK_Z_MEMORY = -4,
    /// An argument is invalid (for example a compression level outside -1...9).
    CDEEPSEEK_Z_INVALID_ARGUMENT = -5,
    /// Any other zlib failure (an incompatible library version, an internal error).
    CDEEPSEEK_Z_INTERNAL = -6,
};

/// Decompresses a whole gzip or zlib buffer (the format is detected from its header).
///
/// Several concatenated gzip members decompress to the concatenation of their contents, as the
/// `gzip` tool does. When `output_capacity` is too small the function keeps inflating into a
/// scratch buffer to learn the full size, stores it in `*output_length` and returns
/// CDEEPSEEK_Z_NEED_SPACE, so a second call with that capacity always fits.
///
/// On a negative result, zlib's own description (if any) is copied into `message` (NUL
/// terminated, at most `message_capacity` bytes including the NUL); `message` may be NULL.
int cdeepseek_gunzip(const uint8_t *input, size_t input_length, uint8_t *output, size_t output_capacity,
                     size_t *output_length, char *message, size_t message_capacity);

/// An upper bound on the gzip-compressed size of `input_length` bytes, for sizing the output of
/// `cdeepseek_gzip`. Returns 0 only when zlib cannot be initialised.
size_t cdeepseek_gzip_bound(size_t input_length);

/// Compresses a buffer into one gzip member (RFC 1952) at `level` (-1 for zlib's default, 0 to 9).
///
/// Returns CDEEPSEEK_Z_NEED_SPACE with `*output_length` set to `cdeepseek_gzip_bound` when the
/// output buffer is smaller than that bound.
int cdeepseek_gzip(const uint8_t *input, size_t input_length, uint8_t *output, size_t output_capacity,
                   size_t *output_length, int level);

#ifdef __cplusplus
}
#endif

#endif
