"""fit()'s progress bar redraws a bounded number of times per run, however slow the machine.

A notebook's widget bar sends several kernel messages per redraw; thousands in one cell make
Jupyter drop messages and nbval fail ("Timeout ... waiting for output"). The bound must hold
without help from the time throttle (a loaded machine is slow), so the test switches it off.
"""
import tqdm.auto
import tqdm.std


from ottt_edu.train import PROGRESS_REFRESHES, TrainConfig, fit


class CountingBar(tqdm.std.tqdm):
    redraws = 0

    def __init__(self, *args, **kwargs):
        kwargs["disable"] = False
        super().__init__(*args, **kwargs)
        self.mininterval = 0.0          # as if every batch took longer than the time throttle

    def refresh(self, *args, **kwargs):
        type(self).redraws += 1
        return super().refresh(*args, **kwargs)


def test_redraws_are_bounded(monkeypatch, capsys):
    monkeypatch.setattr(tqdm.auto, "tqdm", CountingBar)
    CountingBar.redraws = 0
    cfg = TrainConfig(epochs=4, batch_size=8, n_train=400, n_test=40, quiet=True, hidden=(16,), T=2)
    n_batches = 4 * 400 // 8
    fit(cfg)
    assert n_batches > 4 * PROGRESS_REFRESHES       # many more batches than redraws allowed
    assert 0 < CountingBar.redraws <= PROGRESS_REFRESHES + 3, CountingBar.redraws
