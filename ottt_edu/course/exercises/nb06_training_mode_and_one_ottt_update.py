"""The exercise of notebook 06 (training mode and one OTTT update): one OTTT_A update.

``check_ottt_a_step`` checks ``fn(net, x_seq, y, optimizer) -> loss``: one OTTT_A update on
one sequence (a per-step loss divided by T and its backward at once, one ``optimizer.step()``
after the T steps, ``reset_net``), on two seeded tiny networks against a reference update. A
wrong update that a known mistake explains (stepping every time step, which is OTTT_O; no
division by T; ``zero_grad`` in the loop; eval mode; one backward over the whole sequence,
caught by the memory autograd held) gets that mistake's hint.

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195).
"""
from __future__ import annotations

import copy
import numbers
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...functional.state import reset_net
from ...layer.ottt_sequential import OTTTSequential
from ...measure.autograd_memory import SavedTensorMeter
from ...neuron.lif import LIFNode, OTTTLIFNode
from ..language import say
from .core import (ExerciseError, _NotAttempted, _call, _correct, _fail, _not_attempted, watched)
from .harness import _inputs_unchanged

__all__ = ["check_ottt_a_step"]


# -- 06: one OTTT_A update --------------------------------------------------------------------
def _ottt_a_reference(net: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                      optimizer: torch.optim.Optimizer, *, online: bool = False,
                      divide_by_T: bool = True, reset: bool = True, steps: Optional[int] = None,
                      zero_grad_inside: bool = False, eval_mode: bool = False,
                      step_inside: bool = False, mean_output: bool = False,
                      divide_power: int = 1, zero_grad_first: bool = True) -> float:
    """OTTT_A (``online=False``) or OTTT_O (``online=True``) update on one sequence; the other
    switches model common mistakes. Returns the sequence's loss (sum of the per-step losses / T)."""
    T = x_seq.shape[0]
    if eval_mode:
        net.eval()
    if zero_grad_first:
        optimizer.zero_grad()
    else:       # the stale gradient the checker leaves, as after an earlier batch
        for p in net.parameters():
            p.grad = torch.ones_like(p)
    total = 0.0
    if mean_output:   # one loss on the time-averaged output, one backward after all T steps
        loss = F.cross_entropy(torch.stack([net(x_seq[t]) for t in range(T)]).mean(0), y)
        loss.backward()
        optimizer.step()
        reset_net(net)
        return loss.item()
    for t in range(T if steps is None else steps):
        if zero_grad_inside:
            optimizer.zero_grad()
        loss = F.cross_entropy(net(x_seq[t]), y)
        loss = loss / T ** divide_power if divide_by_T else loss
        loss.backward()
        total += loss.item()
        if online or step_inside:
            optimizer.step()
        if online:
            optimizer.zero_grad()
    if not (online or step_inside):
        optimizer.step()
    if reset:
        reset_net(net)
    return total


def _ottt_a_setup(seed: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    with torch.random.fork_rng():  # leave the notebook's random stream alone
        torch.manual_seed(seed)
        net = OTTTSequential(nn.Linear(4, 6), OTTTLIFNode(), nn.Linear(6, 3)).double()
    gen = torch.Generator().manual_seed(seed)
    x_seq = 2.0 * torch.rand(5, 2, 4, generator=gen, dtype=torch.float64)  # (T, B, N_in)
    y = torch.randint(0, 3, (2,), generator=gen)
    return net, x_seq, y


@watched("ottt_edu.layer", "ottt_edu.neuron", "ottt_edu.functional.state")
def check_ottt_a_step(fn: Callable[..., Any]) -> bool:
    """Check ``fn(net, x_seq, y, optimizer) -> loss``: one OTTT_A update on one sequence
    (notebook 06).

    ``fn`` must make the OTTT_A update that the notebook describes and return the sequence's
    loss as a float. Checked on two seeded tiny networks (plain SGD) by comparing the updated
    parameters with a reference update; a wrong update that a known mistake explains gets
    that mistake's hint.
    """
    name = "check_ottt_a_step"
    step_once = say("optimizer.step() once, after the T steps (OTTT_A); stepping every time step "
                    "is OTTT_O",
                    "在 T 个时间步之后调用一次 optimizer.step() (OTTT_A)；每个时间步都更新一次的是 "
                    "OTTT_O")
    variants = {   # what the student did (hint: "you ..."): the reference's switches that model it
        say("stepped the optimizer at every time step: call " + step_once,
            "在每个时间步都让优化器更新了一步：请" + step_once): dict(online=True),
        say("called optimizer.step() inside the time loop (with a single zero_grad, so every step "
            "also re-applies the earlier steps' gradients): call " + step_once,
            "在时间循环内调用了 optimizer.step()（而 zero_grad 只调用了一次，所以每一步还会重复应用"
            "之前各步的梯度）：请" + step_once):
            dict(step_inside=True),
        say("did not divide the loss by T", "没有把损失除以 T"): dict(divide_by_T=False),
        say("divided each step's loss by T twice (T ** 2): OTTT_A's loss is the mean over the T "
            "steps, each step's loss divided by T once",
            "把每一步的损失除了两次 T（T ** 2）：OTTT_A 的损失是 T 个时间步上的平均，每一步的损失"
            "只除以一次 T"): dict(divide_power=2),
        say("did not zero the gradients first: the gradients of an earlier batch are still "
            "there and were added to this update. Call optimizer.zero_grad() once, before the loop",
            "没有先把梯度清零：之前那个批次的梯度还在，被加进了这次更新。请在循环之前调用一次 "
            "optimizer.zero_grad()"): dict(zero_grad_first=False),
        say("looped over range(T - 1): the last time step is missing, use range(T)",
            "循环用的是 range(T - 1)：漏掉了最后一个时间步，请用 range(T)"): dict(steps=4),
        say("called optimizer.zero_grad() inside the time loop: that erases the gradients of the "
            "earlier steps, only the last one is left. Call it once, before the loop",
            "在时间循环内调用了 optimizer.zero_grad()：这会清除之前各步的梯度，只剩下最后一步的。"
            "请在循环之前调用一次"):
            dict(zero_grad_inside=True),
        say("put the network in eval mode (net.eval()) before training: in eval mode the neurons "
            "return only spikes, no trace is kept, and the weights get the spike gradient instead "
            "of OTTT's trace gradient. Train in net.train() mode",
            "在训练前把网络设成了评估模式 (net.eval())：评估模式下神经元只返回脉冲，不保留迹，"
            "权重得到的是脉冲的梯度，而不是 OTTT 基于迹的梯度。请在 net.train() 模式下训练"):
            dict(eval_mode=True),
    }
    try:
        for i, seed in enumerate([5, 6]):
            net, x_seq, y = _ottt_a_setup(seed)
            ref = copy.deepcopy(net)
            net.train(), ref.train()
            ref_opt = torch.optim.SGD(ref.parameters(), lr=0.5)
            with SavedTensorMeter() as ref_memory:
                ref_loss = _ottt_a_reference(ref, x_seq, y, ref_opt)
            opt = torch.optim.SGD(net.parameters(), lr=0.5)
            # a stale gradient, as after an earlier batch, to catch a missing zero_grad()
            for p in net.parameters():
                p.grad = torch.ones_like(p)
            x_before, y_before = x_seq.clone(), y.clone()
            with SavedTensorMeter() as memory:
                returned = _call(name, fn, net, x_seq, y, opt)
            case = say(f"case {i} (T=5, B=2, net Linear(4,6)-OTTTLIFNode-Linear(6,3), SGD lr=0.5)",
                       f"用例 {i} (T=5, B=2, 网络 Linear(4,6)-OTTTLIFNode-Linear(6,3), SGD lr=0.5)")
            _inputs_unchanged(name, case, x_seq=(x_before, x_seq), y=(y_before, y))
            if memory.peak_bytes > 1.5 * ref_memory.peak_bytes:
                mean_net, _, _ = _ottt_a_setup(seed)
                _ottt_a_reference(mean_net, x_seq, y,
                                  torch.optim.SGD(mean_net.parameters(), lr=0.5), mean_output=True)
                if all(torch.allclose(a, b, atol=1e-10)
                       for a, b in zip(net.parameters(), mean_net.parameters())):
                    raise ExerciseError(say(
                        f"{name}: {case}: you computed one loss on the time-averaged output and "
                        f"called backward() once (autograd held {memory.peak_bytes} bytes at "
                        f"once, {memory.peak_bytes / ref_memory.peak_bytes:.1f}x the online "
                        f"update's).\n  hint: one backward() after all T steps keeps every "
                        f"step's graph (BPTT's memory) and a loss on the averaged output is not "
                        f"OTTT_A's per-step loss. For t in range(T): a loss on net(x_seq[t]), "
                        f"divided by T, and its backward() at once.",
                        f"{name}：{case}：你在时间平均后的输出上计算了一个损失，并且只调用了一次 "
                        f"backward()（自动微分同时保存了 {memory.peak_bytes} 字节，是在线更新的 "
                        f"{memory.peak_bytes / ref_memory.peak_bytes:.1f} 倍）。\n  提示：在全部 "
                        f"T 个时间步之后才调用一次 backward() 会保留每一步的计算图（即 BPTT 的内存"
                        f"开销），而且平均输出上的损失也不是 OTTT_A 的逐步损失。对 t in range(T)："
                        f"在 net(x_seq[t]) 上计算损失，除以 T，并立即对它调用 backward()。"
                    ))
                raise ExerciseError(say(
                    f"{name}: {case}: autograd held {memory.peak_bytes} bytes at once, "
                    f"{memory.peak_bytes / ref_memory.peak_bytes:.1f}x the online update's "
                    f"{ref_memory.peak_bytes}. Call loss.backward() inside the time loop, at every "
                    f"step: summing the T losses and calling backward() once keeps all T graphs "
                    f"alive, which is BPTT's memory cost (the gradients happen to agree here only "
                    f"because OTTTLIFNode detaches v).",
                    f"{name}：{case}：自动微分同时保存了 {memory.peak_bytes} 字节，是在线更新 "
                    f"({ref_memory.peak_bytes} 字节) 的 "
                    f"{memory.peak_bytes / ref_memory.peak_bytes:.1f} 倍。请在时间循环内的每一步"
                    f"调用 loss.backward()：把 T 个损失相加后只调用一次 backward() 会让全部 T 个"
                    f"计算图同时存活，这正是 BPTT 的内存开销（这里梯度恰好一致，只是因为 "
                    f"OTTTLIFNode 分离了 v）。"
                ))
            for m in net.modules():
                if isinstance(m, LIFNode) and isinstance(m.v, torch.Tensor):
                    raise ExerciseError(say(
                        f"{name}: {case}: after your update the neurons still hold state "
                        f"(v of shape {tuple(m.v.shape)}). Call reset_net(net) at the end, so "
                        f"the next sequence starts from v = 0.",
                        f"{name}：{case}：更新之后神经元仍保留着状态（形状为 {tuple(m.v.shape)} "
                        f"的 v）。请在最后调用 reset_net(net)，让下一个序列从 v = 0 开始。"
                    ))
            for (pname, p), p_ref in zip(net.named_parameters(), ref.parameters()):
                if torch.allclose(p, p_ref, atol=1e-10):
                    continue
                hint = say("compare your loop with the description above the exercise, step by step: "
                           "what is each step's loss divided by, when is backward() called, how "
                           "often does the optimizer step, and when are the gradients zeroed?",
                           "请对照练习上方的说明逐步检查你的循环：每一步的损失除以什么？什么时候"
                           "调用 backward()？优化器多久更新一次？梯度什么时候清零？")
                for why, kw in variants.items():
                    alt_net, _, _ = _ottt_a_setup(seed)
                    alt_opt = torch.optim.SGD(alt_net.parameters(), lr=0.5)
                    _ottt_a_reference(alt_net, x_seq, y, alt_opt, **kw)
                    if all(torch.allclose(a, b, atol=1e-10)
                           for a, b in zip(net.parameters(), alt_net.parameters())):
                        hint = say(f"you {why}.", f"你{why}。")
                        break
                else:
                    start, _, _ = _ottt_a_setup(seed)
                    if all(torch.allclose(a, b) for a, b in zip(net.parameters(), start.parameters())):
                        hint = say("the parameters did not change: call optimizer.step() after the T steps.",
                                   "参数没有变化：请在 T 个时间步之后调用 optimizer.step()。")
                    elif not any(torch.allclose(a, b, atol=1e-10)
                                 for a, b in zip(net.parameters(), ref.parameters())):
                        hint += say(" (If your update does not start with optimizer.zero_grad(), "
                                    "add it: the checker leaves a stale gradient, as from an earlier "
                                    "batch, in every parameter.)",
                                    "（如果你的更新没有先调用 optimizer.zero_grad()，请加上：检查器会在"
                                    "每个参数里留下一个旧梯度，就像上一批数据留下的那样。）")
                _fail(name, say(f"{case}, parameter {pname}", f"{case}，参数 {pname}"), p_ref, p, hint)
            if isinstance(returned, torch.Tensor):
                _fail(name, say(f"{case}, returned value", f"{case}，返回值"), ref_loss, returned,
                      say("return the loss as a Python float, not a tensor: accumulate "
                          "loss.item() over the T steps (total += loss.item()).",
                          "请把损失作为 Python float 返回，而不是张量：在 T 个时间步上累加 "
                          "loss.item() (total += loss.item())。"))
            try:
                ok = (isinstance(returned, numbers.Real) and not isinstance(returned, bool)
                      and abs(float(returned) - ref_loss) < 1e-8)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                _fail(name, say(f"{case}, returned value", f"{case}，返回值"), ref_loss, returned,
                      say("return the sequence's loss as a float: add up loss.item() over the T steps "
                          "(each loss already divided by T).",
                          "请以 float 返回整个序列的损失：把 T 个时间步的 loss.item() 加起来"
                          "（每个损失都已除以 T）。"))
    except _NotAttempted:
        return _not_attempted(say("your ottt_a_step", "你的 ottt_a_step"))
    return _correct(say("your OTTT_A update gives the reference parameters on 2 seeded networks.",
                        "在 2 个固定随机种子的网络上，你的 OTTT_A 更新得到了与参考实现相同的参数。"))
