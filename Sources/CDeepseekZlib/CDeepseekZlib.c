// See include/CDeepseekZlib.h for why this layer exists.
#include "CDeepseekZlib.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>

// zlib counts bytes in `uInt` (32 bits), so larger buffers are handed over in pieces this big.
static const size_t piece_limit = UINT_MAX;

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

static void copy_message(const z_stream *stream, const char *fallback, char *message, size_t capacity) {
    if (message == NULL || capacity == 0) return;
    const char *text = stream->msg != NULL ? stream->msg : fallback;
    size_t length = min_size(strlen(text), capacity - 1);
    memcpy(message, text, length);
    message[length] = '\0';
}

int cdeepseek_gunzip(const uint8_t *input, size_t input_length, uint8_t *output, size_t output_capacity,
                     size_t *output_length, char *message, size_t message_capacity) {
    if (message != NULL && message_capacity > 0) message[0] = '\0';
    if (output_length == NULL || (input == NULL && input_length > 0) || (output == NULL && output_capacity > 0)) {
        return CDEEPSEEK_Z_INVALID_ARGUMENT;
    }
    *output_length = 0;

    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    // 15 + 32: the largest window, and detect a gzip or zlib header automatically.
    int rc = inflateInit2(&stream, 15 + 32);
    if (rc != Z_OK) return rc == Z_MEM_ERROR ? CDEEPSEEK_Z_MEMORY : CDEEPSEEK_Z_INTERNAL;

    const uint8_t *in = input;
    size_t in_left = input_length;
    uint8_t *out = output;
    size_t out_left = output_capacity;
    // Once the caller's buffer is full, output goes here only to be counted.
    uint8_t scratch[16384];
    int in_scratch = 0;
    int overflowed = 0;
    size_t total = 0;
    int result = CDEEPSEEK_Z_OK;
    const char *fallback = "";

    for (;;) {
        if (stream.avail_in == 0 && in_left > 0) {
            size_t piece = min_size(in_left, piece_limit);
            stream.next_in = (Bytef *)in;
            stream.avail_in = (uInt)piece;
            in += piece;
            in_left -= piece;
        }
        if (stream.avail_out == 0) {
            if (!in_scratch && out_left > 0) {
                size_t piece = min_size(out_left, piece_limit);
                stream.next_out = out;
                stream.avail_out = (uInt)piece;
                out += piece;
                out_left -= piece;
            } else {
                in_scratch = 1;
                stream.next_out = scratch;
                stream.avail_out = sizeof(scratch);
            }
        }
        uInt space_before = stream.avail_out;
        rc = inflate(&stream, Z_NO_FLUSH);
        total += space_before - stream.avail_out;
        // Only bytes that land in the scratch buffer mean the caller's buffer was too small.
        if (in_scratch && stream.avail_out != space_before) overflowed = 1;

        if (rc == Z_STREAM_END) {
            size_t remaining = stream.avail_in + in_left;
            if (remaining == 0) break;
            const uint8_t *next = input + (input_length - remaining);
            if (remaining >= 2 && next[0] == 0x1f && next[1] == 0x8b) {
                // Another gzip member follows; inflateReset keeps the buffers and header detection.
                if (inflateReset(&stream) != Z_OK) {
                    result = CDEEPSEEK_Z_INTERNAL;
                    break;
                }
                continue;
            }
            result = CDEEPSEEK_Z_TRAILING_DATA;
            fallback = "bytes that are not a gzip member follow the end of the stream";
            break;
        }
        if (rc == Z_OK) continue;
        if (rc == Z_BUF_ERROR) {
            // No progress was possible: with output space always provided, only missing input does that.
            if (stream.avail_in == 0 && in_left == 0) {
                result = CDEEPSEEK_Z_TRUNCATED;
                fallback = "the input ends before the compressed stream does";
                break;
            }
            continue;
        }
        if (rc == Z_NEED_DICT) {
            result = CDEEPSEEK_Z_DATA_ERROR;
            fallback = "the zlib stream needs a preset dictionary";
        } else if (rc == Z_DATA_ERROR) {
            result = CDEEPSEEK_Z_DATA_ERROR;
            fallback = "corrupt compressed data";
        } else if (rc == Z_MEM_ERROR) {
            result = CDEEPSEEK_Z_MEMORY;
            fallback = "out of memory";
        } else {
            result = CDEEPSEEK_Z_INTERNAL;
            fallback = "unexpected zlib failure";
        }
        break;
    }

    if (result < 0) copy_message(&stream, fallback, message, message_capacity);
    inflateEnd(&stream);
    if (result < 0) return result;
    *output_length = total;
    return overflowed ? CDEEPSEEK_Z_NEED_SPACE : CDEEPSEEK_Z_OK;
}

// 15 + 16: the largest window, written with a gzip header and trailer; 8: zlib's default memLevel.
static int init_gzip(z_stream *stream, int level) {
    memset(stream, 0, sizeof(*stream));
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

size_t cdeepseek_gzip_bound(size_t input_length) {
    z_stream stream;
    if (init_gzip(&stream, Z_DEFAULT_COMPRESSION) != Z_OK) return 0;
    // Feeding the input in pieces adds at most a few bytes per piece over deflateBound's figure.
    size_t bound = (size_t)deflateBound(&stream, (uLong)input_length) + 64 * (input_length / piece_limit + 1);
    deflateEnd(&stream);
    return bound;
}

int cdeepseek_gzip(const uint8_t *input, size_t input_length, uint8_t *output, size_t output_capacity,
                   size_t *output_length, int level) {
    if (output_length == NULL || (input == NULL && input_length > 0) || (output == NULL && output_capacity > 0) ||
        level < -1 || level > 9) {
        return CDEEPSEEK_Z_INVALID_ARGUMENT;
    }
    *output_length = 0;
    size_t bound = cdeepseek_gzip_bound(input_length);
    if (bound == 0) return CDEEPSEEK_Z_MEMORY;
    if (output_capacity < bound) {
        *output_length = bound;
        return CDEEPSEEK_Z_NEED_SPACE;
    }

    z_stream stream;
    int rc = init_gzip(&stream, level);
    if (rc != Z_OK) return rc == Z_MEM_ERROR ? CDEEPSEEK_Z_MEMORY : CDEEPSEEK_Z_INTERNAL;

    const uint8_t *in = input;
    size_t in_left = input_length;
    uint8_t *out = output;
    size_t out_left = output_capacity;
    size_t total = 0;
    int result = CDEEPSEEK_Z_OK;

    for (;;) {
        if (stream.avail_in == 0 && in_left > 0) {
            size_t piece = min_size(in_left, piece_limit);
            stream.next_in = (Bytef *)in;
            stream.avail_in = (uInt)piece;
            in += piece;
            in_left -= piece;
        }
        if (stream.avail_out == 0) {
            if (out_left == 0) {
                result = CDEEPSEEK_Z_INTERNAL;  // the bound was checked, so this cannot happen
                break;
            }
            size_t piece = min_size(out_left, piece_limit);
            stream.next_out = out;
            stream.avail_out = (uInt)piece;
            out += piece;
            out_left -= piece;
        }
        int flush = in_left == 0 ? Z_FINISH : Z_NO_FLUSH;
        uInt space_before = stream.avail_out;
        rc = deflate(&stream, flush);
        total += space_before - stream.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc == Z_OK || rc == Z_BUF_ERROR) continue;
        result = rc == Z_MEM_ERROR ? CDEEPSEEK_Z_MEMORY : CDEEPSEEK_Z_INTERNAL;
        break;
    }

    deflateEnd(&stream);
    if (result < 0) return result;
    *output_length = total;
    return CDEEPSEEK_Z_OK;
}
