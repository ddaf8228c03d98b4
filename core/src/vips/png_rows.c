/* Undoing the filters of inflated PNG rows (filter method 0), driven from
 * png_rows.rs.
 *
 * In C so that it is compiled optimised in every build profile: the tests
 * run the PNG path under time budgets through unoptimised (`dev`) builds,
 * where the same loops in Rust took 130 ms for a 3.6 MP image.
 *
 * The rows arrive as libdeflate inflated them, each a filter byte and
 * `stride` bytes of samples, `bpp` bytes a pixel. Each row is unfiltered
 * where it lies, from the packed row above it, then moved to the front,
 * over the filter bytes: row y moves y + 1 bytes down, never onto a row
 * still to be read.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Returns non-zero when the work must stop (the deadline passed). */
typedef int (*imagor_png_stop_fn)(void);

enum {
	IMAGOR_PNG_ROWS_OK = 0,
	IMAGOR_PNG_ROWS_BAD_FILTER = 1,
	IMAGOR_PNG_ROWS_STOPPED = 2,
};

/* Bytes unfiltered between two looks at the deadline. */
#define IMAGOR_PNG_CHECK_BYTES ((size_t) 1 << 20)

static inline uint8_t
paeth(uint8_t a, uint8_t b, uint8_t c)
{
	int near_a = b > c ? b - c : c - b;
	int near_b = a > c ? a - c : c - a;
	int near_c = a + b - 2 * c;

	if (near_c < 0)
		near_c = -near_c;
	if (near_a <= near_b && near_a <= near_c)
		return a;
	return near_b <= near_c ? b : c;
}

/* Sub (1), Average (3) and Paeth (4) over one row of `n` bytes, `bpp`
 * bytes a pixel: each byte is predicted from the same sample of the pixel
 * to the left (a), above (b) and above-left (c), all 0 outside the image.
 * Inlined with a constant `bpp`, the compiler keeps a and c in registers.
 */
static inline __attribute__((always_inline)) void
by_pixel(int filter, uint8_t *x, const uint8_t *above, size_t n, const int bpp)
{
	uint8_t a[4] = { 0 }, c[4] = { 0 };
	size_t i;
	int k;

	switch (filter) {
	case 1:
		for (i = 0; i < n; i += bpp)
			for (k = 0; k < bpp; k++) {
				x[i + k] = (uint8_t) (x[i + k] + a[k]);
				a[k] = x[i + k];
			}
		break;

	case 3:
		for (i = 0; i < n; i += bpp)
			for (k = 0; k < bpp; k++) {
				x[i + k] = (uint8_t) (x[i + k] + ((a[k] + above[i + k]) >> 1));
				a[k] = x[i + k];
			}
		break;

	default:
		for (i = 0; i < n; i += bpp)
			for (k = 0; k < bpp; k++) {
				uint8_t b = above[i + k];

				x[i + k] = (uint8_t) (x[i + k] + paeth(a[k], b, c[k]));
				a[k] = x[i + k];
				c[k] = b;
			}
		break;
	}
}

/* Unfilter the `height` rows at `rows` (each a filter byte and `stride`
 * bytes) and pack them to the front; `zeros` is a row of `stride` zero
 * bytes (the row above the first). `bpp` is 1 to 4 and divides `stride`.
 */
int
imagor_png_unfilter(uint8_t *rows, size_t height, size_t stride, int bpp,
	const uint8_t *zeros, imagor_png_stop_fn stop)
{
	size_t line = stride + 1;
	size_t since_check = 0;
	size_t y, i;

	for (y = 0; y < height; y++) {
		uint8_t *x = rows + y * line + 1;
		const uint8_t *above = y == 0 ? zeros : rows + (y - 1) * stride;
		int filter = x[-1];

		switch (filter) {
		case 0:
			break;

		case 2:
			for (i = 0; i < stride; i++)
				x[i] = (uint8_t) (x[i] + above[i]);
			break;

		case 1:
		case 3:
		case 4:
			switch (bpp) {
			case 1:
				by_pixel(filter, x, above, stride, 1);
				break;
			case 2:
				by_pixel(filter, x, above, stride, 2);
				break;
			case 3:
				by_pixel(filter, x, above, stride, 3);
				break;
			default:
				by_pixel(filter, x, above, stride, 4);
				break;
			}
			break;

		default:
			return IMAGOR_PNG_ROWS_BAD_FILTER;
		}
		memmove(rows + y * stride, x, stride);

		since_check += line;
		if (since_check >= IMAGOR_PNG_CHECK_BYTES) {
			since_check = 0;
			if (stop && stop())
				return IMAGOR_PNG_ROWS_STOPPED;
		}
	}

	return IMAGOR_PNG_ROWS_OK;
}
