"""A user's own training program, as hpsearch's command objective runs it (studies/command-example.toml).

Pure Python (no NumPy), so any python3 runs it: a one-hidden-layer tanh
network learns two interleaved half-moons with plain SGD. It speaks the
command objective's protocol:

- hyperparameters arrive as arguments (the spec's {placeholders}); all of
  them are also in env HPSEARCH_PARAMS as JSON;
- each epoch prints {"step": epoch, "value": validation accuracy}, so a
  pruner can stop a hopeless run early;
- the last line printed is the result, {"value": best validation accuracy};
- a log goes to env HPSEARCH_TRIAL_DIR, the trial's own folder.

Try it by hand: python3 studies/command_train.py --lr 0.1 --width 8
"""

import argparse
import json
import math
import os
import random


def moons(n, noise, rng):
    points = []
    for i in range(n):
        label = i % 2
        t = math.pi * rng.random()
        x, y = (math.cos(t), math.sin(t)) if label == 0 else (1 - math.cos(t), 0.5 - math.sin(t))
        points.append(((x + rng.gauss(0, noise), y + rng.gauss(0, noise)), label))
    return points


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, required=True, help="learning rate")
    parser.add_argument("--width", type=int, required=True, help="hidden units")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.lr <= 0 or args.width < 1:
        parser.error("expected --lr > 0 and --width >= 1")

    data_rng = random.Random(0)  # the same data for every trial
    data = moons(200, 0.2, data_rng)
    train, val = data[:140], data[140:]
    rng = random.Random(args.seed)
    h = args.width
    w1 = [[rng.gauss(0, 1.0) for _ in range(2)] for _ in range(h)]
    b1 = [0.0] * h
    w2 = [rng.gauss(0, 1.0 / math.sqrt(h)) for _ in range(h)]
    b2 = 0.0

    def forward(x):
        hidden = [math.tanh(w[0] * x[0] + w[1] * x[1] + b) for w, b in zip(w1, b1, strict=True)]
        z = sum(a * w for a, w in zip(hidden, w2, strict=True)) + b2
        return hidden, 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def accuracy(rows):
        return sum((forward(x)[1] > 0.5) == bool(label) for x, label in rows) / len(rows)

    log_path = os.path.join(os.environ.get("HPSEARCH_TRIAL_DIR", "."), "train.log")
    best = 0.0
    with open(log_path, "w") as log:
        log.write(f"params: {os.environ.get('HPSEARCH_PARAMS', json.dumps(vars(args)))}\n")
        for epoch in range(args.epochs):
            rng.shuffle(train)
            for x, label in train:
                hidden, p = forward(x)
                g = p - label  # d(log loss)/dz
                for j in range(h):
                    gh = g * w2[j] * (1 - hidden[j] ** 2)
                    w2[j] -= args.lr * g * hidden[j]
                    w1[j][0] -= args.lr * gh * x[0]
                    w1[j][1] -= args.lr * gh * x[1]
                    b1[j] -= args.lr * gh
                b2 -= args.lr * g
            acc = accuracy(val)
            best = max(best, acc)
            log.write(f"epoch {epoch}: validation accuracy {acc:.4f}\n")
            print(json.dumps({"step": epoch, "value": acc}))
    print(json.dumps({"value": best}))


if __name__ == "__main__":
    main()
