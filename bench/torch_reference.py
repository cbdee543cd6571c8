#!/usr/bin/env python3
"""PyTorch reference for bench/engine.ts: the same BERT encoder (post-LN layers, exact-erf GELU, additive mask,
pooler + classifier) timed on this machine, forward and forward+backward, with the same FLOP count.

Not a test dependency: bench/engine.ts runs it when python3 can import torch (Debian: apt-get install python3-torch)
and prints its numbers as a reference column. Weights are random (speed does not depend on their values).

Usage: python3 bench/torch_reference.py --layers 4 --hidden 128 --heads 8 --ffn 512 --batch 32 --seq 128 \
           --reps 5 --threads 1    (prints one JSON object)
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

# The thread count must reach OpenBLAS/OpenMP before torch loads them (Debian's torch calls the system BLAS;
# install libopenblas0-pthread, otherwise it falls back to the slow reference BLAS).
_threads = next((sys.argv[i + 1] for i, v in enumerate(sys.argv[:-1]) if v == "--threads"), "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads)
os.environ.setdefault("OMP_NUM_THREADS", _threads)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Layer(torch.nn.Module):
    def __init__(self, hidden, heads, ffn, eps):
        super().__init__()
        self.h, self.d, self.eps = heads, hidden // heads, eps
        self.query = torch.nn.Linear(hidden, hidden)
        self.key = torch.nn.Linear(hidden, hidden)
        self.value = torch.nn.Linear(hidden, hidden)
        self.out = torch.nn.Linear(hidden, hidden)
        self.ln1 = torch.nn.LayerNorm(hidden, eps=eps)
        self.inter = torch.nn.Linear(hidden, ffn)
        self.output = torch.nn.Linear(ffn, hidden)
        self.ln2 = torch.nn.LayerNorm(hidden, eps=eps)

    def forward(self, x, mask, p_attn, p_hidden):
        B, T, C = x.shape
        split = lambda t: t.view(B, T, self.h, self.d).transpose(1, 2)  # (B, H, T, d)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d) + mask  # (B, H, T, T)
        probs = F.dropout(scores.softmax(-1), p_attn, self.training)
        ctx = (probs @ v).transpose(1, 2).reshape(B, T, C)
        h = self.ln1(F.dropout(self.out(ctx), p_hidden, self.training) + x)
        return self.ln2(F.dropout(self.output(F.gelu(self.inter(h))), p_hidden, self.training) + h)


class Encoder(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.word = torch.nn.Embedding(30522, a.hidden)
        self.pos = torch.nn.Embedding(512, a.hidden)
        self.typ = torch.nn.Embedding(2, a.hidden)
        self.ln = torch.nn.LayerNorm(a.hidden, eps=1e-12)
        self.layers = torch.nn.ModuleList([Layer(a.hidden, a.heads, a.ffn, 1e-12) for _ in range(a.layers)])
        self.pooler = torch.nn.Linear(a.hidden, a.hidden)
        self.classifier = torch.nn.Linear(a.hidden, 2)

    def forward(self, ids, attention_mask):
        B, T = ids.shape
        pos = torch.arange(T).expand(B, T)
        x = F.dropout(self.ln(self.word(ids) + self.pos(pos) + self.typ(torch.zeros_like(ids))), 0.1, self.training)
        mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, mask, 0.1, 0.1)
        return self.classifier(F.dropout(torch.tanh(self.pooler(x[:, 0])), 0.1, self.training))


def timed(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return {"min": min(times), "median": statistics.median(times)}


def main():
    p = argparse.ArgumentParser()
    for name, default in [("layers", 4), ("hidden", 128), ("heads", 8), ("ffn", 512), ("batch", 32), ("seq", 128), ("reps", 5), ("threads", 1)]:
        p.add_argument(f"--{name}", type=int, default=default)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Encoder(a)
    ids = torch.randint(1000, 20000, (a.batch, a.seq))
    attention_mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    labels = torch.randint(0, 2, (a.batch,))

    def forward():
        model.eval()
        with torch.no_grad():
            model(ids, attention_mask)

    # forward+backward as the HiFi trainer runs it: dropout on, gradients for the attention projections of every
    # layer (query/key/value/output dense) and the task head; embeddings and feed-forward weights frozen
    for name, param in model.named_parameters():
        trainable = any(s in name for s in (".query.", ".key.", ".value.", ".out.", "pooler.", "classifier."))
        param.requires_grad_(trainable)

    def forward_backward():
        model.train()
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(ids, attention_mask), labels).backward()

    # the BLAS library torch actually loads (Debian's torch links the system libblas.so.3 alternative)
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    print(json.dumps({
        "torch": torch.__version__, "threads": a.threads, "blas": blas,
        "forward_ms": timed(forward, a.reps), "forward_backward_ms": timed(forward_backward, a.reps),
    }))


if __name__ == "__main__":
    main()
