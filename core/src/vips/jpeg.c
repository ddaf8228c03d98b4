/* Still JPEG decoding through our own libjpeg (mozjpeg-sys, feature
 * `own-jpeg`), driven from jpeg.rs.
 *
 * libjpeg reports a fatal error by calling error_exit, which must not
 * return. Here it longjmps back to the setjmp in this file, so the jump
 * never crosses a Rust frame. Warnings are counted as libvips' jpegload
 * counts them (the 100th is fatal unless `unlimited`); the progress
 * monitor asks Rust whether the call's deadline has passed and stops the
 * decode the same way.
 */

#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeglib.h"
#include "jerror.h"

/* Outcomes (mirrored in jpeg.rs). */
#define IMAGOR_JPEG_OK 0
#define IMAGOR_JPEG_ERROR 1
#define IMAGOR_JPEG_STOPPED 2
#define IMAGOR_JPEG_UNSUPPORTED 3

/* Returns non-zero when the decode must stop (the deadline passed). */
typedef int (*imagor_jpeg_stop_fn)(void);

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	int unlimited;
	int stopped;
} ShimError;

/* Pixels of width decoded between two asks of the deadline: asking once
 * a row was 0.9% of a 6 MP resize; a 64 Ki-pixel stride is about 20 rows
 * of a photo and each pass of a wide image. */
#define IMAGOR_JPEG_CHECK_PIXELS 65536UL

/* Rows skipped above a window between two asks of the deadline. */
#define IMAGOR_JPEG_SKIP_ROWS 256

typedef struct {
	struct jpeg_progress_mgr pub;
	imagor_jpeg_stop_fn stop;
	ShimError *err;
	/* Width decoded since the deadline was last asked. */
	unsigned long pending;
} ShimProgress;

static void
shim_error_exit(j_common_ptr cinfo)
{
	longjmp(((ShimError *) cinfo->err)->jump, 1);
}

static void
shim_emit_message(j_common_ptr cinfo, int level)
{
	/* Warnings only; nothing is printed. */
	if (level < 0) {
		long warnings = ++cinfo->err->num_warnings;
		if (!((ShimError *) cinfo->err)->unlimited && warnings >= 100)
			cinfo->err->error_exit(cinfo);
	}
}

static void
shim_output_message(j_common_ptr cinfo)
{
	(void) cinfo;
}

static void
shim_progress(j_common_ptr cinfo)
{
	ShimProgress *progress = (ShimProgress *) cinfo->progress;
	/* Called once a row, or once an MCU row of a scan being absorbed. */
	progress->pending += ((j_decompress_ptr) cinfo)->image_width;
	if (progress->pending < IMAGOR_JPEG_CHECK_PIXELS)
		return;
	progress->pending = 0;
	if (progress->stop && progress->stop()) {
		progress->err->stopped = 1;
		longjmp(progress->err->jump, 1);
	}
}

static void
shim_init_error(ShimError *err, int unlimited)
{
	memset(err, 0, sizeof(*err));
	jpeg_std_error(&err->pub);
	err->pub.error_exit = shim_error_exit;
	err->pub.emit_message = shim_emit_message;
	err->pub.output_message = shim_output_message;
	err->unlimited = unlimited;
}

/* The size and bands of `data` decoded at 1/`shrink`, as libvips' jpegload
 * gives them: libjpeg's scaled size rounded down. UNSUPPORTED: output other
 * than 8-bit RGB or grey (CMYK, YCCK), left to libvips. */
int
imagor_jpeg_header(const unsigned char *data, size_t length, int shrink,
	int *width, int *height, int *bands)
{
	struct jpeg_decompress_struct cinfo;
	ShimError err;
	volatile int outcome = IMAGOR_JPEG_OK;

	shim_init_error(&err, 0);
	cinfo.err = &err.pub;
	if (setjmp(err.jump)) {
		jpeg_destroy_decompress(&cinfo);
		return IMAGOR_JPEG_ERROR;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, (unsigned long) length);
	jpeg_read_header(&cinfo, TRUE);
	cinfo.scale_num = 1;
	cinfo.scale_denom = shrink;
	jpeg_calc_output_dimensions(&cinfo);
	if ((cinfo.out_color_space != JCS_RGB &&
		    cinfo.out_color_space != JCS_GRAYSCALE) ||
		cinfo.data_precision != 8)
		outcome = IMAGOR_JPEG_UNSUPPORTED;
	*width = (int) (cinfo.image_width / (unsigned) shrink);
	*height = (int) (cinfo.image_height / (unsigned) shrink);
	*bands = cinfo.output_components;
	jpeg_destroy_decompress(&cinfo);
	return outcome;
}

/* Decode `data` at 1/`shrink` (an image of `width` x `height`, `bands`
 * bytes a pixel, the size imagor_jpeg_header gave) into `out`: the window
 * of columns [x0, x0 + window_width) and rows [y0, y0 + window_height), in
 * rows of `window_width` * `bands` bytes. libjpeg widens the columns to
 * whole blocks and skips the inverse DCT and colour conversion of those
 * outside (the rows above are read past, those below never read); a window
 * starting on a block boundary is written in place. `warnings` receives
 * the count of libjpeg's warnings. */
int
imagor_jpeg_decode(const unsigned char *data, size_t length, int shrink,
	int unlimited, imagor_jpeg_stop_fn stop, unsigned char *out, int width,
	int height, int bands, int x0, int window_width, int y0,
	int window_height, long *warnings)
{
	struct jpeg_decompress_struct cinfo;
	ShimError err;
	ShimProgress progress;
	/* A row of libjpeg's width, where its row is not ours. */
	unsigned char *volatile wide = NULL;
	size_t stride = (size_t) window_width * (size_t) bands;
	JDIMENSION left = 0;
	size_t skipped;
	int end;

	if (x0 < 0 || y0 < 0 || window_width < 1 || window_height < 1 ||
		x0 + window_width > width || y0 + window_height > height)
		return IMAGOR_JPEG_UNSUPPORTED;
	shim_init_error(&err, unlimited);
	cinfo.err = &err.pub;
	if (setjmp(err.jump)) {
		*warnings = err.pub.num_warnings;
		jpeg_destroy_decompress(&cinfo);
		free(wide);
		return err.stopped ? IMAGOR_JPEG_STOPPED : IMAGOR_JPEG_ERROR;
	}
	jpeg_create_decompress(&cinfo);
	memset(&progress, 0, sizeof(progress));
	progress.pub.progress_monitor = shim_progress;
	progress.stop = stop;
	progress.err = &err;
	/* The first call asks. */
	progress.pending = IMAGOR_JPEG_CHECK_PIXELS;
	cinfo.progress = &progress.pub;
	jpeg_mem_src(&cinfo, data, (unsigned long) length);
	jpeg_read_header(&cinfo, TRUE);
	cinfo.scale_num = 1;
	cinfo.scale_denom = shrink;
	jpeg_start_decompress(&cinfo);
	if ((cinfo.out_color_space != JCS_RGB &&
		    cinfo.out_color_space != JCS_GRAYSCALE) ||
		cinfo.output_components != bands ||
		cinfo.output_width < (JDIMENSION) width ||
		cinfo.output_height < (JDIMENSION) height) {
		jpeg_destroy_decompress(&cinfo);
		return IMAGOR_JPEG_UNSUPPORTED;
	}
	if (x0 > 0 || window_width < width) {
		JDIMENSION crop_width = (JDIMENSION) window_width;

		left = (JDIMENSION) x0;
		jpeg_crop_scanline(&cinfo, &left, &crop_width);
	}
	/* libjpeg's row (widened to blocks, or its scaled width rounded up)
	 * starts `skipped` bytes before ours. */
	skipped = (size_t) ((JDIMENSION) x0 - left) * (size_t) bands;
	if ((skipped > 0 || cinfo.output_width != (JDIMENSION) window_width) &&
		!(wide = malloc((size_t) cinfo.output_width * (size_t) bands)))
		ERREXIT1(&cinfo, JERR_OUT_OF_MEMORY, 0);
	/* The rows above are still entropy-decoded: skipped a few iMCU rows
	 * at a time (256 is a multiple of every iMCU height), asking the
	 * deadline between. */
	while (cinfo.output_scanline < (JDIMENSION) y0) {
		JDIMENSION rows = (JDIMENSION) y0 - cinfo.output_scanline;

		if (rows > IMAGOR_JPEG_SKIP_ROWS)
			rows = IMAGOR_JPEG_SKIP_ROWS;
		if (jpeg_skip_scanlines(&cinfo, rows) != rows)
			ERREXIT(&cinfo, JERR_INPUT_EMPTY);
		if (stop && stop()) {
			err.stopped = 1;
			longjmp(err.jump, 1);
		}
	}
	end = y0 + window_height;
	while (cinfo.output_scanline < (JDIMENSION) end) {
		unsigned char *row =
			out + stride * (size_t) (cinfo.output_scanline - y0);
		JSAMPROW target = wide ? wide : row;
		if (jpeg_read_scanlines(&cinfo, &target, 1) != 1)
			ERREXIT(&cinfo, JERR_INPUT_EMPTY);
		if (wide)
			memcpy(row, wide + skipped, stride);
	}
	*warnings = err.pub.num_warnings;
	/* As libvips: the rest of the file is not read. */
	jpeg_destroy_decompress(&cinfo);
	free(wide);
	return IMAGOR_JPEG_OK;
}
