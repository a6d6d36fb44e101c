/* Super-resolution pairs derived from any 2-D image set
 * (data.derive: super_resolution).
 *
 * Sample i of the derived set:
 *   target = image i of the base set as raw values (bytes scaled to [0, 1],
 *            float images as stored; the base set's mean/std are NOT applied),
 *            C x H x W;
 *   input  = the target box-downsampled by `factor` (each low-resolution
 *            pixel is the mean of its factor x factor block), C x H/f x W/f;
 *            with LMN_SR_INPUT_UPSAMPLED, that image bicubic-upsampled back
 *            to C x H x W (VDSR's input; see data/resample.h for the kernel).
 * Inputs are not normalized (mean 0, std 1), so inputs and targets share
 * one scale and a network may add its input to its output. Labels are kept
 * (federated partitions by label still work). Pairs are computed on gather
 * from the stored base images: nothing else is held in memory. */
#ifndef LMN_DATA_SUPER_RESOLUTION_H
#define LMN_DATA_SUPER_RESOLUTION_H

#include "data/dataset.h"

typedef enum lmn_sr_input {
    LMN_SR_INPUT_LOW,       /* the downsampled image itself */
    LMN_SR_INPUT_UPSAMPLED  /* bicubic-upsampled back to the target size */
} lmn_sr_input;

/* Replaces *ds (a 2-D image set with stored pixels or float values) by its
 * super-resolution pairs; the derived set owns the original. On failure
 * *ds is left as it was.
 * Errors: LMN_ERR_CONFIG for a factor other than 2, 3 or 4, a height or
 * width not divisible by it, a set without stored images (synthetic or
 * generated sets), a 3-D set or one that already has targets; the message
 * names the dataset and key data.sr_factor / data.derive. */
lmn_status lmn_dataset_derive_super_resolution(lmn_dataset **ds, int factor, lmn_sr_input input);

/* True when ds came from lmn_dataset_derive_super_resolution. */
bool lmn_dataset_is_super_resolution(const lmn_dataset *ds);

/* What a network must beat: the mean over the set's images of the PSNR
 * (dB, values spanning `peak`, see lmn_psnr_db) of the bicubic upsampling
 * of each low-resolution image against its target, and the same for
 * nearest-neighbour upsampling. Deterministic (summed in sample order).
 * Errors: LMN_ERR_ARG when ds is not a super-resolution set. */
lmn_status lmn_dataset_sr_baseline_psnr(const lmn_dataset *ds, double peak, double *bicubic_db,
                                        double *nearest_db);

#endif
