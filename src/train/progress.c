#include "train/progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/timer.h"

enum { BAR_WIDTH = 24 };

static void format_duration(double seconds, char *out, size_t size)
{
    if (!(seconds >= 0.0) || seconds > 1e7) {
        snprintf(out, size, "--:--");
        return;
    }
    const int total = (int)(seconds + 0.5);
    if (total >= 3600)
        snprintf(out, size, "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60);
    else
        snprintf(out, size, "%d:%02d", total / 60, total % 60);
}

void lmn_progress_start(lmn_progress *p, FILE *stream)
{
    p->stream = stream;
    /* OpenMPI hands ranks a pseudo-terminal even when mpirun's own output
     * goes to a file, so under a launcher plain lines are the default;
     * LAMINA_PROGRESS=bar or =lines decides explicitly. */
    const char *choice = getenv("LAMINA_PROGRESS");
    const bool launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_RANK") || getenv("PMIX_RANK");
    if (choice && strcmp(choice, "bar") == 0)
        p->live = true;
    else if (choice && strcmp(choice, "lines") == 0)
        p->live = false;
    else
        p->live = !launched && isatty(fileno(stream)) == 1;
    p->last_draw = 0.0;
    p->run_start = lmn_now();
}

static bool regression(const lmn_progress *p)
{
    return p->task && p->task->kind == LMN_TASK_REGRESSION;
}

void lmn_progress_step(lmn_progress *p, int epoch, int epochs, int64_t step, int64_t steps,
                       double loss, double acc, double images_per_second, double eta_seconds)
{
    if (!p->live) return;
    const double now = lmn_now();
    if (now - p->last_draw < 0.25 && step != steps) return;
    p->last_draw = now;
    char bar[BAR_WIDTH + 1], eta[48], score[48] = "";
    const int filled = steps > 0 ? (int)(BAR_WIDTH * step / steps) : BAR_WIDTH;
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[BAR_WIDTH] = '\0';
    format_duration(eta_seconds, eta, sizeof eta);
    if (!regression(p)) snprintf(score, sizeof score, "  acc %.4f", acc);
    fprintf(p->stream, "\r\033[Kepoch %d/%d [%s] %3d%%  loss %.4f%s  %.0f img/s  ETA %s",
            epoch, epochs, bar, steps > 0 ? (int)(100 * step / steps) : 100, loss, score,
            images_per_second, eta);
    fflush(p->stream);
}

/* Regression: the test loss with MSE and, for images, PSNR (and what
 * bicubic upsampling scores, when there is such a baseline). */
static void print_regression_test(const lmn_progress *p, const lmn_epoch_summary *s)
{
    const lmn_regression_metrics *m = &p->scores->evaluated;
    if (isnan(s->test_loss) || s->test_loss < 0.0 || isnan(m->mse)) return;
    fprintf(p->stream, "  test_loss %.4g  test_mse %.4g", s->test_loss, m->mse);
    if (p->scores->psnr) fprintf(p->stream, "  test_psnr %.2f dB", m->psnr);
    if (!isnan(p->scores->baseline_psnr))
        fprintf(p->stream, " (bicubic %.2f)", p->scores->baseline_psnr);
}

void lmn_progress_epoch(lmn_progress *p, const lmn_epoch_summary *s)
{
    char eta[48], elapsed[48];
    format_duration(s->eta_seconds, eta, sizeof eta);
    format_duration(lmn_now() - p->run_start, elapsed, sizeof elapsed);
    if (p->live) fprintf(p->stream, "\r\033[K");
    if (regression(p)) {
        fprintf(p->stream, "epoch %d/%d  loss %.4g", s->epoch, s->epochs, s->train_loss);
        print_regression_test(p, s);
    } else {
        fprintf(p->stream, "epoch %d/%d  loss %.4f  acc %.4f", s->epoch, s->epochs, s->train_loss,
                s->train_acc);
        if (s->test_acc >= 0.0)
            fprintf(p->stream, "  test_loss %.4f  test_acc %.4f", s->test_loss, s->test_acc);
    }
    fprintf(p->stream, "  %.0f img/s  %.1f s  elapsed %s  ETA %s\n", s->images_per_second,
            s->seconds, elapsed, eta);
    fflush(p->stream);
}
