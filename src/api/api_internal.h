/* The public API's implementation (include/lamina.h) over the library's
 * internal parts: shared by the files of src/api only. */
#ifndef LMN_API_INTERNAL_H
#define LMN_API_INTERNAL_H

#include "lamina.h"

#include "core/status.h"
#include "data/dataset.h"
#include "io/config.h"

struct lamina_config {
    lmn_cfg *cfg;
};

struct lamina_dataset {
    lmn_dataset *dataset; /* reads its rows through the program's callbacks */
};

/* An internal status as the public one (the codes are the same numbers). */
lamina_status lmn_api_status(lmn_status status);

/* Takes the dataset out of its handle (freeing the handle): the caller
 * owns what is returned. */
lmn_dataset *lmn_api_dataset_take(lamina_dataset *dataset);

#endif
