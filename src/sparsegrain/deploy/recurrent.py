"""LSTM and GRU layers whose gate matrices are sparse kernels.

The recurrence stays in torch; what the kernels take is the products: every time step's input
projection ``W_ih x`` at once (one product of T x batch rows), then ``W_hh h`` once a step. A gate
matrix without a kernel (kept dense where its kernel was slower) multiplies as torch's would.
The outputs equal ``nn.LSTM`` / ``nn.GRU``'s in eval mode (projections, ``proj_size``, are not
taken: such a layer stays as it is).
"""

from __future__ import annotations

import torch
from torch import nn

from ..kernels import SparseKernel
from . import ops

#: the recurrent module types :class:`SparseRNN` stands in for
RECURRENT = (nn.LSTM, nn.GRU)


def tensor_names(rnn: nn.Module, kinds: tuple[str, ...] = ("weight_ih", "weight_hh", "bias_ih",
                                                             "bias_hh")) -> list[str]:
    """The names of an LSTM's or GRU's tensors of ``kinds`` by layer and direction
    (``weight_ih_l0``, ``weight_hh_l0_reverse``, ...), parametrized or not."""
    suffixes = ["", "_reverse"] if rnn.bidirectional else [""]
    return [f"{kind}_l{layer}{s}" for layer in range(rnn.num_layers) for s in suffixes
            for kind in kinds if rnn.bias or kind.startswith("weight")]


def gate_matrices(rnn: nn.Module) -> list[str]:
    """The names of an LSTM's or GRU's gate matrices (``weight_ih_l0``, ``weight_hh_l0_reverse``...)."""
    return tensor_names(rnn, ("weight_ih", "weight_hh"))


def replaceable_rnn(m: nn.Module) -> bool:
    """An LSTM or GRU a :class:`SparseRNN` can stand in for (no projections)."""
    return isinstance(m, RECURRENT) and not getattr(m, "proj_size", 0)


class SparseRNN(nn.Module):
    """An LSTM or GRU run with sparse kernels for the gate matrices named in ``kernels`` and the
    module's own (masked) weights for the others; eval-mode semantics (no dropout)."""

    def __init__(self, rnn: nn.Module, kernels: dict[str, SparseKernel]) -> None:
        super().__init__()
        if not replaceable_rnn(rnn):
            raise ValueError(f"a sparse recurrent layer stands in for an LSTM or GRU without "
                             f"projections, got {type(rnn).__name__}")
        self.mode = "lstm" if isinstance(rnn, nn.LSTM) else "gru"
        self.hidden_size, self.num_layers = rnn.hidden_size, rnn.num_layers
        self.bidirectional, self.batch_first = rnn.bidirectional, rnn.batch_first
        self.kernels = dict(kernels)
        #: where a run leaves, by gate matrix, the rows it multiplied: (sequences, steps, cols)
        self.record: dict[str, torch.Tensor] | None = None
        self.numbers = {name: ops.number(k) for name, k in self.kernels.items()}
        for name in tensor_names(rnn):
            if name not in self.kernels:
                self.register_buffer(name, getattr(rnn, name).detach().float().clone())

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.numbers = {name: ops.number(k) for name, k in self.kernels.items()}

    def extra_repr(self) -> str:
        sparse = ", ".join(f"{n}: {k.fmt}" for n, k in self.kernels.items())
        return (f"{self.mode}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}; sparse {sparse or 'none'}")

    def _times(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """x (rows, cols) @ W.T for gate matrix ``name``, sparse where it has a kernel."""
        if name not in self.kernels:
            return x @ self._buffers[name].T
        return ops.multiply(self.kernels[name], self.numbers[name], x)

    def _bias(self, name: str) -> torch.Tensor | None:
        return self._buffers.get(name)

    def forward(self, x: torch.Tensor, hx: torch.Tensor | tuple | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"SparseRNN takes a floating-point tensor, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        batched = x.dim() == 3
        seq = x if batched else x.unsqueeze(1)
        if batched and self.batch_first:
            seq = seq.transpose(0, 1)
        seq = seq.float()
        batch = seq.shape[1]
        dirs = 2 if self.bidirectional else 1
        h0, c0 = self._initial(hx, dirs, batch, batched)
        finals_h, finals_c = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                out, h, c = self._direction(seq, layer, d, h0[k], None if c0 is None else c0[k])
                outs.append(out)
                finals_h.append(h)
                finals_c.append(c)
            seq = torch.cat(outs, dim=2) if dirs == 2 else outs[0]
        out = seq
        if batched and self.batch_first:
            out = out.transpose(0, 1)
        h_n = torch.stack(finals_h)
        if not batched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
        if self.mode == "gru":
            return out.to(x.dtype), h_n.to(x.dtype)
        c_n = torch.stack(finals_c)
        return out.to(x.dtype), (h_n.to(x.dtype), (c_n if batched else c_n.squeeze(1)).to(x.dtype))

    def _initial(self, hx: torch.Tensor | tuple | None, dirs: int, batch: int, batched: bool
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(h0, c0) as (layers x directions, batch, hidden) float32 (c0 None for a GRU)."""
        shape = (self.num_layers * dirs, batch, self.hidden_size)
        if hx is None:
            zeros = torch.zeros(shape)
            return zeros, (zeros.clone() if self.mode == "lstm" else None)
        h, c = hx if self.mode == "lstm" else (hx, None)
        if not batched:
            h = h.unsqueeze(1)
            c = None if c is None else c.unsqueeze(1)
        return h.float(), (None if c is None else c.float())

    def _direction(self, seq: torch.Tensor, layer: int, d: int, h: torch.Tensor,
                   c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One layer in one direction over the whole sequence: outputs (T, B, H), last h, c."""
        suffix = f"l{layer}" + ("_reverse" if d else "")
        steps, batch = seq.shape[0], seq.shape[1]
        if self.record is not None:
            self.record[f"weight_ih_{suffix}"] = seq.transpose(0, 1).detach().clone()
        gi = self._times(f"weight_ih_{suffix}", seq.reshape(steps * batch, -1))
        b_ih, b_hh = self._bias(f"bias_ih_{suffix}"), self._bias(f"bias_hh_{suffix}")
        if b_ih is not None:
            gi = gi + b_ih
        gi = gi.view(steps, batch, -1)
        order = range(steps - 1, -1, -1) if d else range(steps)
        h_start = h
        outs: list[torch.Tensor] = [torch.empty(0)] * steps
        for t in order:
            gh = self._times(f"weight_hh_{suffix}", h)
            if b_hh is not None:
                gh = gh + b_hh
            if self.mode == "lstm":
                i, f, g, o = (gi[t] + gh).chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                ri, zi, ni = gi[t].chunk(3, dim=1)
                rh, zh, nh = gh.chunk(3, dim=1)
                r, z = torch.sigmoid(ri + rh), torch.sigmoid(zi + zh)
                h = (1 - z) * torch.tanh(ni + r * nh) + z * h
            outs[t] = h
        if self.record is not None:  # each step multiplied the hidden state of the step before
            before = [outs[t + 1] if d else outs[t - 1] for t in range(steps)
                      if (t + 1 < steps if d else t > 0)]
            rows = [*before, h_start] if d else [h_start, *before]
            self.record[f"weight_hh_{suffix}"] = torch.stack(rows).transpose(0, 1).detach().clone()
        return torch.stack(outs), h, (c if c is not None else h)

