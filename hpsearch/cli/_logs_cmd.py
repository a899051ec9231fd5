"""``hpsearch logs``: a command trial's stdout and stderr (hpsearch.trial_logs)."""

from __future__ import annotations

import sys

import click

from hpsearch.cli._common import load_named_study, storage_option


@click.command("logs")
@click.argument("name")
@click.argument("trial", type=int)
@click.option("--follow", "-f", is_flag=True, help="Keep printing what the trial writes until it ends.")
@storage_option
def logs(name: str, trial: int, follow: bool, storage: str | None) -> None:
    """The output of trial TRIAL (its number) of a command study NAME.

    The program's stdout is printed to stdout and its stderr to stderr, as the
    program wrote them, so `2>/dev/null` or `2>&1` work as usual. The logs are
    files in the trial's folder (user attrs stdout_log and stderr_log), on the
    machine that ran the trial.

    \b
    Examples:
      hpsearch logs train 12
      hpsearch logs train 12 --follow
      hpsearch logs train 12 2>&1 | less
    """
    from optuna.trial import TrialState

    from hpsearch.errors import UserError
    from hpsearch.storage import storage_of, study_id_of
    from hpsearch.trial_logs import copy_chunks, trial_logs
    from hpsearch.trial_logs import follow as follow_logs

    _, _, study, _ = load_named_study(storage, name)
    st, study_id = storage_of(study), study_id_of(study)
    try:
        trial_id = st.get_trial_id_from_study_id_trial_number(study_id, trial)
    except KeyError:
        raise UserError(f"study {name!r} has no trial {trial}") from None
    found = trial_logs(name, st.get_trial(trial_id))
    out, err = sys.stdout.buffer, sys.stderr.buffer
    sys.stdout.flush()
    if follow:
        follow_logs(found, out, err, lambda: st.get_trial(trial_id).state == TrialState.RUNNING)
        return
    copy_chunks(found.stdout, out.write)
    out.flush()
    copy_chunks(found.stderr, err.write)
    err.flush()
