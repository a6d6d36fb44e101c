/* `lamina train --help` names every zoo model and every layer type the
 * model parser accepts. The names come from the code's own tables
 * (lmn_model_zoo_names, lmn_layer_kind_name), so a model or layer added
 * later without a word in the help fails here. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/help.h"
#include "nn/model.h"
#include "test.h"

/* Whether word occurs in text as a whole word ("conv" not inside "conv3d"). */
static int has_word(const char *text, const char *word)
{
    const size_t length = strlen(word);
    for (const char *at = strstr(text, word); at; at = strstr(at + 1, word)) {
        const int before = at > text && (isalnum((unsigned char)at[-1]) || at[-1] == '_');
        const int after = isalnum((unsigned char)at[length]) || at[length] == '_';
        if (!before && !after) return 1;
    }
    return 0;
}

int main(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    CHECK(stream != NULL);
    if (!stream) return lmn_test_summary("cli_test_train_help");
    lmn_print_train_help(stream);
    fclose(stream);
    int zoo = 0;
    for (const char *const *name = lmn_model_zoo_names(); *name; name++, zoo++)
        CHECK_MSG(has_word(text, *name), "the train help does not name zoo model '%s'", *name);
    CHECK_MSG(zoo >= 6, "only %d zoo models listed by lmn_model_zoo_names", zoo);
    /* The model parser accepts `type:` as any of these names
     * (io/model_config.c reads them from lmn_layer_kind_name). */
    for (int k = 0; k < LMN_LAYER_KIND_COUNT; k++) {
        const char *kind = lmn_layer_kind_name((lmn_layer_kind)k);
        CHECK_MSG(has_word(text, kind), "the train help does not name layer type '%s'", kind);
    }
    free(text);
    return lmn_test_summary("cli_test_train_help");
}
