"""A plain register-transfer reference of EIE, written apart from the compiled model.

Each cycle latches every register from the wires of the previous cycle (``update``), then
recomputes every wire from the registers (``propagate``), module by module as in the EIE
authors' RTL-level simulator: activation unit, central unit with ring-buffer queues, pointer
reader, weight SRAM reader, 3-stage arithmetic. It stops at the authors' end-of-layer test.
Slow (pure Python); for small layers in tests only.
"""

from __future__ import annotations

import numpy as np

from sparsegrain.hardware.eie import EIELayer

INPUTS, BIAS, EMPTY = 0, 1, 2


def run_rtl(layer: EIELayer, acts: np.ndarray, fifo_depth: int, sram_width: int = 64,
            max_cycles: int = 100_000) -> tuple[int, np.ndarray]:
    """(cycles, outputs) as the authors' simulator would report them."""
    P, B = layer.n_pe, fifo_depth
    groups = -(-len(acts) // P)
    src = np.zeros(groups * P, dtype=np.float32)
    src[:len(acts)] = acts
    y = np.zeros(layer.n_rows, dtype=np.float32)
    codes = np.append(layer.codes, 0)  # the SRAM reader's output is don't-care when idle
    zeros_before = np.append(layer.zeros_before, 0)
    r = dict(  # registers
        a_group=0, a_state=INPUTS, a_wrote=False,
        c_last=0, c_group=0, c_acts=np.zeros(P, np.float32),
        q_col=np.zeros((P, B), np.int64), q_val=np.zeros((P, B), np.float32),
        rd=np.zeros(P, np.int64), wr=np.zeros(P, np.int64),
        p_col=np.zeros(P, np.int64), p_val=np.zeros(P, np.float32), p_empty=np.ones(P, bool),
        p_next=np.zeros(P, np.int64), p_fresh=np.ones(P, bool), p_line=np.full(P, -1),
        s_valid=np.zeros(P, bool), s_addr=np.zeros(P, np.int64), s_val=np.zeros(P, np.float32),
        s_done=np.zeros(P, bool),
        m_valid=np.zeros(P, bool), m_code=np.zeros(P, np.int64), m_zb=np.zeros(P, np.int64),
        m_val=np.zeros(P, np.float32), m_done=np.zeros(P, bool), m_row=np.zeros(P, np.int64),
        x_valid=np.zeros(P, bool), x_row=np.zeros(P, np.int64), x_w=np.zeros(P, np.float32),
        x_val=np.zeros(P, np.float32),
        w_valid=np.zeros(P, bool), w_row=np.zeros(P, np.int64), w_prod=np.zeros(P, np.float32),
    )

    def propagate() -> dict:
        w: dict = {}
        # activation unit: the group it offers the central unit, and the end-of-layer test
        if r["a_state"] == INPUTS:
            g = r["a_group"]
            w["offer_group"], w["offer"] = g, src[g * P:(g + 1) * P]
        elif r["a_state"] == BIAS:
            w["offer_group"], w["offer"] = groups, np.eye(1, P, dtype=np.float32)[0]
        else:
            w["offer_group"], w["offer"] = 0, np.zeros(P, np.float32)
        w["complete"] = r["a_state"] == EMPTY and not r["a_wrote"]
        # central unit: queue status and leading-nonzero detection
        full = ((r["wr"] + 1) % B == r["rd"]).any()
        w["q_empty"] = r["wr"] == r["rd"]
        first = (r["c_last"] + 1) % P
        hits = np.nonzero(r["c_acts"][first:] != 0)[0]
        find = len(hits) > 0
        w["pos"] = first + hits[0] if find else P - 1
        w["push"] = find and not full
        w["shift"] = not (full and find)
        w["load"] = (not find) or (w["pos"] == P - 1 and not full)
        # pointer readers: address of the entry this cycle, and whether to take the next column
        lo = layer.ptr[np.arange(P), r["p_col"]]
        hi = layer.ptr[np.arange(P), r["p_col"] + 1]
        w["valid"] = ~r["p_empty"] & (lo != hi)
        w["addr"] = np.where(r["p_fresh"], lo, r["p_next"])
        w["done"] = w["addr"] == hi - 1
        w["take"] = ~w["valid"] | w["done"]
        # weight reader output, then the arithmetic stages
        e = layer.base[:-1] + r["s_addr"]
        w["code"] = codes[np.minimum(e, len(layer.codes))].astype(np.int64)
        w["zb"] = zeros_before[np.minimum(e, len(layer.codes))].astype(np.int64)
        w["row"] = r["m_zb"] + r["m_row"]
        w["prod"] = r["x_w"] * r["x_val"]
        return w

    def update(w: dict) -> None:
        # activation unit: advance when the central unit loads; retire writes
        if w["load"]:
            if r["a_state"] == INPUTS:
                last = r["a_group"] == groups - 1
                r["a_group"] += 1
                r["a_state"] = (BIAS if layer.has_bias else EMPTY) if last else INPUTS
            else:
                r["a_state"] = EMPTY
        r["a_wrote"] = bool(r["w_valid"].any())
        for k in np.nonzero(r["w_valid"])[0]:
            y[r["w_row"][k] * P + k] += r["w_prod"][k]
        # arithmetic: stage 3 <- stage 2 <- stage 1 <- weight reader
        r["w_valid"], r["w_row"], r["w_prod"] = r["x_valid"].copy(), r["x_row"].copy(), w["prod"]
        r["x_valid"] = r["m_valid"] & (r["m_code"] != 0)
        r["x_row"], r["x_val"] = w["row"], r["m_val"].copy()
        r["x_w"] = layer.codebook[r["m_code"]]
        r["m_row"] = np.where(r["m_valid"], np.where(r["m_done"], 0, w["row"] + 1), r["m_row"])
        r["m_valid"], r["m_code"], r["m_zb"] = r["s_valid"].copy(), w["code"], w["zb"]
        r["m_val"], r["m_done"] = r["s_val"].copy(), r["s_done"].copy()
        v = w["valid"]
        r["s_addr"] = np.where(v, w["addr"], r["s_addr"])
        r["s_val"] = np.where(v, r["p_val"], r["s_val"])
        r["s_done"] = np.where(v, w["done"], r["s_done"])
        r["s_valid"] = v.copy()
        # pointer readers
        r["p_next"] = np.where(v, w["addr"] + 1, r["p_next"])
        r["p_fresh"] = np.where(v, w["done"], r["p_fresh"])
        take = w["take"] & ~w["q_empty"]
        for k in np.nonzero(take)[0]:
            r["p_col"][k] = r["q_col"][k, r["rd"][k]]
            r["p_val"][k] = r["q_val"][k, r["rd"][k]]
        r["p_empty"] = np.where(w["take"], w["q_empty"], r["p_empty"])
        # central unit
        if w["shift"]:
            r["c_last"] = w["pos"]
        if w["push"]:
            col = r["c_group"] * P + w["pos"]
            r["q_col"][np.arange(P), r["wr"]] = col if col < len(acts) else len(acts)
            r["q_val"][np.arange(P), r["wr"]] = r["c_acts"][w["pos"]]
            r["wr"] = (r["wr"] + 1) % B
        r["rd"] = np.where(take, (r["rd"] + 1) % B, r["rd"])
        if w["load"]:
            r["c_group"], r["c_acts"] = w["offer_group"], w["offer"].copy()

    wires = propagate()
    for cycle in range(1, max_cycles):
        update(wires)
        wires = propagate()
        if cycle >= 9 and wires["complete"]:
            return cycle, y
    raise RuntimeError("no end of layer")
