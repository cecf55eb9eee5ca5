/* Graceful stop on SIGTERM (see ct_stop_on_sigterm in cosmotl/core.h). */
#include "cosmotl/core.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag = 0;
static volatile sig_atomic_t grace_s = 0;

/* grace over: end as if no handler had been installed (killed by SIGTERM) */
static void on_alarm(int sig)
{
    (void)sig;
    signal(SIGTERM, SIG_DFL);
    raise(SIGTERM);
    _exit(128 + SIGTERM);
}

static void on_term(int sig)
{
    (void)sig;
    if (!stop_flag && grace_s > 0)
        alarm((unsigned)grace_s);
    stop_flag = 1;
}

void ct_stop_on_sigterm(unsigned grace_seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    grace_s = (sig_atomic_t)grace_seconds;
    sa.sa_handler = on_term;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
}

int ct_stop_requested(void) { return stop_flag != 0; }

int ct_stop_agree(MPI_Comm comm)
{
    int mine = stop_flag != 0, any = mine;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm);
    return any;
}
