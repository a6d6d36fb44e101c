#ifndef LMN_CLI_HELP_H
#define LMN_CLI_HELP_H

#include <stdio.h>

void lmn_print_usage(FILE *out);
void lmn_print_train_help(FILE *out);
void lmn_print_fl_help(FILE *out);

#endif
