"""Cells of notebooks/06_training_online.ipynb."""
from nbgen import code, md, notebook


def build():
    return notebook([
        md(r"""
        # 06 · Training online: OTTT_A and OTTT_O on handwritten digits

        Notebooks 01–05 built every piece of OTTT: the LIF neuron and its trace, `GradwithTrace`,
        `SpikeTraceOp` and `OTTTSequential`, and one update checked by hand. Now we train a whole
        spiking network with it, on real data, and look inside the trained network.

        **Learning goals**
        - turn static images into spike-network inputs over $T$ steps (direct and Poisson encoding);
        - write the OTTT_A and OTTT_O training steps in a few plain lines, and check them against
          `ottt_edu.train`;
        - train a spiking MLP to above 97 % test accuracy on 8×8 digits in seconds on a laptop CPU;
        - read the learning curves, the firing rate of each layer, spike rasters of single test
          digits, and the confusion matrix.

        The data are scikit-learn's handwritten digits (1797 images of 8×8 pixels, shipped with
        scikit-learn, no download), split 1437 / 360 with a fixed seed.
        """),
        code(r"""
        import copy

        import matplotlib.pyplot as plt
        import torch
        import torch.nn.functional as F

        from ottt_edu import reset_net
        from ottt_edu.data import load_dataset
        from ottt_edu.encoding import DirectEncoder, PoissonEncoder
        from ottt_edu.measure import firing_rates, record_spikes
        from ottt_edu.models import ModelConfig, build_model, parametric_layers
        from ottt_edu.train import (TrainConfig, fit, make_loaders, ottt_a_step, ottt_o_step,
                                    predict)
        from ottt_edu.viz import (plot_confusion_matrix, plot_firing_rates, plot_learning_curves,
                                  plot_raster)

        _ = torch.manual_seed(0)            # seed everything (the "_ =" hides the returned generator)
        """),
        md(r"""
        ## 1. The data, and two ways to present an image for $T$ steps

        A spiking network runs for $T$ time steps, so a static image must become a sequence
        $x[0], \dots, x[T-1]$. Two common choices:

        - **direct encoding**: $x[t] = x$, the analog pixel values at every step. The first layer,
          `Linear` + LIF, then turns them into spikes — it *is* the encoder, and it is trained.
          The OTTT paper uses this.
        - **Poisson (rate) encoding**: $x[t] \in \{0, 1\}$ with $P(x[t] = 1) = x$, drawn
          independently at every step: the pixel value becomes a firing probability.
        """),
        code(r"""
        data = load_dataset("digits", seed=0)
        x_train, y_train = data.train.tensors
        x_test, y_test = data.test.tensors
        print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, pixel range "
              f"[{x_train.min():.1f}, {x_train.max():.1f}], classes {data.info.n_classes}")
        print("test images per class:", torch.bincount(y_test).tolist())
        """),
        md(r"""
        Both encodings, written in plain code first, then checked against `ottt_edu.encoding`:
        """),
        code(r"""
        T = 6
        x = x_test[:4]                                            # (B, 1, 8, 8)

        direct_plain = torch.stack([x] * T)                       # (T, B, 1, 8, 8)
        g = torch.Generator().manual_seed(0)
        poisson_plain = (torch.rand((T, *x.shape), generator=g) < x).float()

        torch.testing.assert_close(DirectEncoder()(x, T), direct_plain)
        torch.testing.assert_close(PoissonEncoder(seed=0)(x, T), poisson_plain)

        # the Poisson rate approaches the pixel value as T grows
        long = PoissonEncoder(seed=1)(x, 2000).mean(0)            # (B, 1, 8, 8)
        print(f"largest |rate - pixel| over 2000 steps: {(long - x).abs().max():.3f}")
        assert (long - x).abs().max() < 0.05
        """),
        code(r"""
        fig, axes = plt.subplots(2, T + 1, figsize=(9, 3))
        axes[0, 0].imshow(x[0, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[0, 0].set_title(f"digit {y_test[0].item()}", fontsize=9)
        axes[1, 0].axis("off")
        for t in range(T):
            axes[0, t + 1].imshow(direct_plain[t, 0, 0], cmap="gray_r", vmin=0, vmax=1)
            axes[0, t + 1].set_title(f"direct t={t}", fontsize=8)
            axes[1, t + 1].imshow(poisson_plain[t, 0, 0], cmap="gray_r", vmin=0, vmax=1)
            axes[1, t + 1].set_title(f"Poisson t={t}", fontsize=8)
        for ax in axes.flat:
            ax.set_xticks([]), ax.set_yticks([])
        fig.tight_layout()
        plt.show()
        """),
        md(r"""
        ## 2. The network

        A spiking MLP, $64 \to 256 \to 10$: `Linear`, `OTTTLIFNode` ($\tau = 2$, soft reset), and a
        read-out `Linear` without a neuron, all in an `OTTTSequential`. Per step,
        $$h[t] = W_1 x[t] + b_1, \quad s[t] = \mathrm{LIF}(h[t]), \quad
        o[t] = W_2 s[t] + b_2,$$
        and the prediction is $\arg\max_c \sum_t o_c[t]$. `ModelConfig` describes it;
        `neuron="bptt"` builds the same layers with `LIFNode` for BPTT (notebook 07).
        """),
        code(r"""
        config = ModelConfig(kind="mlp", neuron="ottt", tau=2.0, hidden=(256,))
        net = build_model(config)
        print(net)
        for layer, how in net.wrapping():
            print(f"{layer:18s} -> {how}")
        print("layers with weights:", list(parametric_layers(net)))
        """),
        md(r"""
        ## 3. The two OTTT training steps, in plain code

        The loss of a sequence is the per-step cross-entropy averaged over $T$,
        $L = \frac1T \sum_t \mathrm{CE}(o[t], y)$. OTTT calls `backward()` on each term as soon as
        its step has run, so the graph of a step is freed at once:

        - **OTTT_A** (*accumulated*): the gradients of the $T$ steps add up in `.grad`; one
          optimizer step per batch.
        - **OTTT_O** (*online*): an optimizer step after every time step — the weights change
          *during* the sequence, as a learning rule in hardware would.

        Both end with `reset_net`, so the next batch starts from $v = 0$, $a = 0$.
        """),
        code(r"""
        def ottt_a_plain(net, x_seq, y, optimizer):
            T = x_seq.shape[0]
            optimizer.zero_grad()
            total = 0.0
            for t in range(T):
                out = net(x_seq[t])                        # (B, 10)
                loss = F.cross_entropy(out, y) / T
                loss.backward()                            # step t's graph is freed here
                total += loss.item()
            optimizer.step()                               # one update per batch
            reset_net(net)
            return total


        def ottt_o_plain(net, x_seq, y, optimizer):
            T = x_seq.shape[0]
            total = 0.0
            for t in range(T):
                optimizer.zero_grad()
                out = net(x_seq[t])
                loss = F.cross_entropy(out, y) / T
                loss.backward()
                optimizer.step()                           # an update at every time step
                total += loss.item()
            reset_net(net)
            return total
        """),
        md(r"""
        Three batches with each, from the same start, against the library's `ottt_a_step` and
        `ottt_o_step` (which `fit` calls):
        """),
        code(r"""
        train_loader, test_loader = make_loaders(data, batch_size=32, seed=0)
        batches = [b for b, _ in zip(train_loader, range(3))]
        encoder = DirectEncoder()

        for plain, library in ((ottt_a_plain, ottt_a_step), (ottt_o_plain, ottt_o_step)):
            torch.manual_seed(0)
            mine = build_model(config)
            lib = copy.deepcopy(mine)
            opt_mine = torch.optim.Adam(mine.parameters(), lr=3e-3)
            opt_lib = torch.optim.Adam(lib.parameters(), lr=3e-3)
            for xb, yb in batches:
                loss_mine = plain(mine, encoder(xb, T), yb, opt_mine)
                loss_lib = library(lib, encoder(xb, T), yb, opt_lib).loss
                assert abs(loss_mine - loss_lib) < 1e-6
            for p_mine, p_lib in zip(mine.parameters(), lib.parameters()):
                torch.testing.assert_close(p_mine, p_lib)
            print(f"{plain.__name__:13s} == {library.__name__}: same losses and weights after 3 batches")
        """),
        md(r"""
        ## 4. Training with OTTT_A

        `fit(TrainConfig(...))` loads the data, builds the model, and runs `train_one_epoch` and
        `evaluate` for every epoch; it shows a progress bar and returns the history (a plain dict
        of lists). The same run from a terminal:

        ```
        python -m ottt_edu train --dataset digits --method ottt_a --T 6 --epochs 30 --seed 0
        ```

        Evaluation runs the network in eval mode: `OTTTLIFNode` returns spikes only, and no graph
        or trace is built.
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (output not compared: progress bar and wall-clock times; the accuracy is asserted below)
        cfg_a = TrainConfig(dataset="digits", model="mlp", method="ottt_a", T=6, tau=2.0,
                            hidden=(256,), epochs=30, batch_size=32, lr=3e-3, scheduler="cosine",
                            seed=0)
        run_a = fit(cfg_a)
        h_a = run_a.history
        print(f"OTTT_A: test accuracy {h_a['test_acc'][-1]:.4f} after {len(h_a['epoch'])} epochs, "
              f"{h_a['time'][-1]:.1f} s of training")
        assert h_a["test_acc"][-1] >= 0.97
        assert h_a["train_loss"][-1] < 0.3 * h_a["train_loss"][0]
        """),
        md(r"""
        ## 5. Training with OTTT_O

        OTTT_O applies $T$ updates per batch, each from the gradient of one step. With Adam, whose
        step size does not depend on the gradient's scale, that is about $T$ times more movement
        per batch, so we divide the learning rate by $T$.
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (output not compared: progress bar and wall-clock times; the accuracy is asserted below)
        cfg_o = TrainConfig(dataset="digits", model="mlp", method="ottt_o", T=6, tau=2.0,
                            hidden=(256,), epochs=30, batch_size=32, lr=3e-3 / 6,
                            scheduler="cosine", seed=0)
        run_o = fit(cfg_o)
        h_o = run_o.history
        print(f"OTTT_O: test accuracy {h_o['test_acc'][-1]:.4f} after {len(h_o['epoch'])} epochs, "
              f"{h_o['time'][-1]:.1f} s of training")
        assert h_o["test_acc"][-1] >= 0.95
        """),
        code(r"""
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
        for ax, (name, h) in zip(axes, (("OTTT_A", h_a), ("OTTT_O", h_o))):
            plot_learning_curves(ax, h, keys=("train_acc", "test_acc"))
            ax.set_title(f"{name}: accuracy per epoch")
            ax.set_ylim(0.5, 1.0)
        fig.tight_layout()
        plt.show()
        """),
        md(r"""
        Both learn quickly. The paper reports both variants, with very close accuracy; under
        data-parallel training OTTT_A needs one gradient all-reduce per batch, OTTT_O one per
        time step.

        ## 6. Inside the trained network: firing rates

        The firing rate of a layer is its mean number of spikes per neuron per time step, on the
        test set. `record_spikes` runs the network in eval mode and keeps every neuron layer's
        spikes, shaped $(T, B, N)$.
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (output not compared: the rates depend on the trained weights (last bits vary across CPUs))
        model = run_a.model
        x_seq = DirectEncoder()(x_test, cfg_a.T)                     # (T, 360, 1, 8, 8)
        rates = firing_rates(model, x_seq)
        rec = record_spikes(model, x_seq)
        rate_plain = rec["lif1"].float().mean().item()              # spikes / (T * B * N)
        assert abs(rate_plain - rates["lif1"]) < 1e-9
        silent = (rec["lif1"].sum(dim=(0, 1)) == 0).float().mean().item()
        print(f"lif1: {rates['lif1']:.3f} spikes per neuron per step; "
              f"{100 * silent:.1f} % of the 256 neurons never fire on the test set")
        assert 0.01 < rates["lif1"] < 0.9

        fig, ax = plt.subplots(figsize=(3.5, 3))
        plot_firing_rates(ax, rates)
        plt.show()
        """),
        md(r"""
        ## 7. Spike rasters on a few test digits

        For three test digits: the image, the spikes over the $T = 6$ steps of the 64 hidden neurons
        whose spike counts vary most from digit to digit (the most selective ones), and the
        read-out summed over time, whose largest entry is the prediction. Different digits
        switch on different groups of neurons.
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (output not compared: the spikes depend on the trained weights (last bits vary across CPUs))
        picks = [0, 1, 2]
        spikes = rec["lif1"][:, picks]                              # (T, 3, 256)
        out_sum = rec["output"][:, picks].sum(0)                    # (3, 10)
        counts = rec["lif1"].sum(0)                                 # (360, 256) spikes per digit
        top = counts.var(0).argsort(descending=True)[:64]           # the most digit-selective
        fig, axes = plt.subplots(2, 3, figsize=(10, 5.5), height_ratios=[1, 2])
        for j, i in enumerate(picks):
            pred = out_sum[j].argmax().item()
            axes[0, j].imshow(x_test[i, 0], cmap="gray_r", vmin=0, vmax=1)
            axes[0, j].set_title(f"label {y_test[i].item()}, predicted {pred}", fontsize=9)
            axes[0, j].set_xticks([]), axes[0, j].set_yticks([])
            plot_raster(axes[1, j], spikes[:, j, top])
            axes[1, j].set_title(f"lif1: {int(spikes[:, j].sum())} spikes", fontsize=9)
            print(f"test digit {i}: label {y_test[i].item()}, summed read-out "
                  f"{[round(v, 1) for v in out_sum[j].tolist()]} -> {pred}")
            assert pred == y_test[i].item()
        fig.tight_layout()
        plt.show()
        """),
        md(r"""
        ## 8. Which digits get confused?

        `predict` returns the read-out summed over $T$ for every test image; the confusion matrix
        counts, for each true class (row), the predicted classes (columns).
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (output not compared: the counts depend on the trained weights (last bits vary across CPUs))
        out_sum, labels, test_loss = predict(model, test_loader, cfg_a.T)
        pred = out_sum.argmax(1)
        cm = torch.zeros(10, 10, dtype=torch.long)
        for t_, p_ in zip(labels.tolist(), pred.tolist()):
            cm[t_, p_] += 1
        acc = cm.diag().sum().item() / cm.sum().item()
        print(f"accuracy from the confusion matrix: {acc:.4f} (history: {h_a['test_acc'][-1]:.4f})")
        off = cm.clone().fill_diagonal_(0)
        i, j = divmod(int(off.argmax()), 10)
        print(f"most frequent confusion: true {i} predicted as {j} ({off[i, j].item()} times)")
        assert abs(acc - h_a["test_acc"][-1]) < 1e-6 and cm.sum().item() == 360

        fig, ax = plt.subplots(figsize=(5, 4.5))
        plot_confusion_matrix(ax, cm)
        plt.show()
        """),
        md(r"""
        ## Exercise

        Train with **Poisson** encoding instead (`encoding="poisson"` in `TrainConfig`, or
        `--encoding poisson` on the command line). Predict first: will the test accuracy at
        $T = 6$ go up or down, and why? Then try $T = 16$. (Hint: with Poisson inputs a pixel of
        value 0.3 arrives as about two spikes in six steps — the network sees a noisy sample of
        the image, and more steps average the noise out.)
        """),
        md(r"""
        ## Summary

        - A static image becomes $T$ inputs by **direct** encoding (analog, repeated; the first
          layer is the encoder) or **Poisson** encoding (random spikes with rate = pixel value).
        - **OTTT_A**: `backward()` of $L[t]/T$ after every step, gradients accumulated, one
          `optimizer.step()` per batch. **OTTT_O**: an `optimizer.step()` after every step. Both:
          `reset_net` after each batch; a dozen plain lines, identical to `ottt_edu.train`.
        - A 64–256–10 spiking MLP trained with OTTT_A reaches ≥ 97 % on the 360 test digits in
          30 epochs (a few seconds on a laptop CPU).
        - Evaluation runs in eval mode (spikes only); the prediction is the arg-max of the
          read-out summed over $T$. Firing rates, rasters and the confusion matrix show what the
          trained network does.

        **Where this is in SpikingJelly:** SpikingJelly's online-learning modules
        (`spikingjelly.activation_based.layer.online_learning.OTTTSequential`, `neuron.OTTTLIFNode`) are driven
        by a training loop you write yourself, like the one above and as in the OTTT authors'
        code: per-step loss divided by $T$, `backward()` every step, `optimizer.step()` once
        (OTTT_A) or every step (OTTT_O), `spikingjelly.activation_based.functional.reset_net(net)`
        after each batch. Rate coding is `spikingjelly.activation_based.encoding.PoissonEncoder`. Here: `ottt_edu.train`
        (`ottt_a_step`, `ottt_o_step`, `fit`), `ottt_edu.encoding`, `ottt_edu.measure`.
        Notebook 07 trains the same network with BPTT and compares.
        """),
    ])


