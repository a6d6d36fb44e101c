/* The subcommands of `lamina` beyond train and fl. Each returns a status
 * agreed across ranks. argv starts at the command's name (argv[0] =
 * "eval"), as getopt_long expects. */
#ifndef LMN_CLI_COMMANDS_H
#define LMN_CLI_COMMANDS_H

#include "comm/comm.h"

lmn_status lmn_command_eval(lmn_comm *comm, int argc, char **argv);
lmn_status lmn_command_export(lmn_comm *comm, int argc, char **argv);
lmn_status lmn_command_data(lmn_comm *comm, int argc, char **argv);
lmn_status lmn_command_simulate(lmn_comm *comm, int argc, char **argv);
/* lamina report RUN_DIR... --out FILE (arguments after "report"). */
lmn_status lmn_command_report(lmn_comm *comm, int argc, char **argv);

#endif
