"""Benign files written by the real libraries people use, for the scanner's false-positive
corpus. Each producer writes into its own folder and returns nothing; a producer whose
library is not installed raises ImportError and is recorded as skipped, with the reason.

``n`` scales how many variants each producer writes (1: the representative subset the
test suite scans; larger: the full corpus of ``make scanner-corpus``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

JOBLIB_COMPRESSIONS: tuple[Any, ...] = (0, "zlib", "gzip", "bz2", "lzma", "xz", "lz4", ("zlib", 9))


def _xy(seed: int, n: int = 60, d: int = 4) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    return x, (x[:, 0] + 0.1 * rng.random(n) > 0.5).astype(int)


def _dump_every_way(obj: object, out: Path, stem: str) -> None:
    """joblib in every compression, and pickle in protocols 2-5."""
    import joblib

    for c in JOBLIB_COMPRESSIONS:
        tag = c if isinstance(c, str | int) else f"{c[0]}{c[1]}"
        joblib.dump(obj, out / f"{stem}.c{tag}.joblib", compress=c)
    for proto in (2, 3, 4, 5):
        (out / f"{stem}.p{proto}.pkl").write_bytes(pickle.dumps(obj, protocol=proto))


def torch_files(out: Path, n: int) -> None:
    """State dicts of every dtype torch saves, in the zip and legacy formats; full
    training checkpoints; whole modules (review, not malicious)."""
    import numpy as np
    import torch

    dtypes = [
        getattr(torch, name)
        for name in (
            "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8",
            "uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128",
            "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
            "float8_e8m0fnu", "complex32",
        )
        if hasattr(torch, name)
    ]  # fmt: skip
    for seed in range(n):
        torch.manual_seed(seed)
        for dt in dtypes:
            t = torch.randn(4, 3 + seed).mul(3).to(dt) if dt != torch.bool else torch.rand(4) > 0.5
            for legacy in (False, True):
                name = f"sd-{str(dt).split('.')[-1]}-{seed}{'-legacy' if legacy else ''}.pt"
                torch.save(
                    {"w": t, "b": t[0]}, out / name, _use_new_zipfile_serialization=not legacy
                )
        q = torch.quantize_per_tensor(torch.randn(8), 0.1, 0, torch.qint8)
        torch.save({"q": q}, out / f"sd-qint8-{seed}.pt")
        model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
        model(torch.ones(3, 6)).sum().backward()
        for name, opt in (
            ("adamw", torch.optim.AdamW(model.parameters())),
            ("sgd", torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)),
            ("adagrad", torch.optim.Adagrad(model.parameters())),
        ):
            opt.step()
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10)
            ckpt = {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "epoch": seed,
                "args": argparse.Namespace(lr=0.1, name="run"),
                "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state()},
            }
            torch.save(ckpt, out / f"ckpt-{name}-{seed}.pth")
            torch.save(
                ckpt, out / f"ckpt-{name}-{seed}-legacy.pth", _use_new_zipfile_serialization=False
            )
        torch.save(model, out / f"whole-module-{seed}.pt")  # review: imports torch.nn classes
        torch.save({"sparse": torch.randn(4, 4).to_sparse()}, out / f"sparse-{seed}.pt")


def torch_distributed_checkpoints(out: Path, n: int) -> None:
    """``torch.distributed.checkpoint`` folders (``.metadata`` + ``__0_0.distcp``), saved
    by one process as FSDP/DTensor training scripts do: model and optimizer state."""
    import warnings

    import torch
    from torch.distributed.checkpoint.state_dict_saver import save as dcp_save

    for seed in range(n):
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Linear(4, 2))
        opt = torch.optim.AdamW(model.parameters())
        model(torch.ones(3, 6)).sum().backward()
        opt.step()
        states = {
            "model": {"model": model.state_dict()},
            "train": {"model": model.state_dict(), "optim": opt.state_dict(), "step": seed},
            "mixed": {
                "bf16": torch.randn(4, 4).to(torch.bfloat16),
                "i64": torch.arange(5 + seed),
                "nested": {"x": torch.ones(2), "note": f"run{seed}"},
            },
        }
        for name, state in states.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "assuming ... a single process"
                dcp_save(state, checkpoint_id=str(out / f"dcp-{name}-{seed}"))


def hf_trainer(out: Path, n: int) -> None:
    """``transformers.Trainer`` checkpoint folders: training_args.bin, optimizer.pt,
    scheduler.pt, rng_state.pth, trainer_state.json and the model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

    data = [{"input_ids": torch.arange(8) % 50, "labels": torch.arange(8) % 50} for _ in range(8)]
    for i, (optim, sched) in enumerate(
        [("adamw_torch", "linear"), ("sgd", "cosine"), ("adafactor", "constant")][: max(1, n)]
    ):
        torch.manual_seed(i)
        cfg = LlamaConfig(
            vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32,
        )  # fmt: skip
        args = TrainingArguments(
            output_dir=str(out / f"run-{optim}"), max_steps=2, save_steps=2,
            per_device_train_batch_size=4, optim=optim, lr_scheduler_type=sched,
            report_to=[], use_cpu=True, logging_steps=1, save_only_model=False,
        )  # fmt: skip
        Trainer(model=LlamaForCausalLM(cfg), args=args, train_dataset=data).train()


def sklearn_models(out: Path, n: int) -> None:
    from sklearn.decomposition import PCA
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    for seed in range(n):
        x, y = _xy(seed)
        models: dict[str, Any] = {
            "logreg": LogisticRegression().fit(x, y),
            "ridge": Ridge().fit(x, y),
            "forest": RandomForestClassifier(n_estimators=3, random_state=seed).fit(x, y),
            "gbc": GradientBoostingClassifier(n_estimators=3, random_state=seed).fit(x, y),
            "tree": DecisionTreeClassifier(random_state=seed).fit(x, y),
            "svc": SVC().fit(x, y),
            "knn": KNeighborsClassifier().fit(x, y),
            "nb": GaussianNB().fit(x, y),
            "pca": PCA(2).fit(x),
            "pipe": make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
            "onehot": OneHotEncoder().fit([["a"], ["b"], ["c"]]),
            "tfidf": TfidfVectorizer().fit(["a cat sat", "the dog ran", "a dog sat"]),
        }
        for name, model in models.items():
            _dump_every_way(model, out, f"{name}-{seed}")


def xgboost_models(out: Path, n: int) -> None:
    import xgboost as xgb

    for seed in range(n):
        x, y = _xy(seed)
        clf = xgb.XGBClassifier(n_estimators=3, max_depth=2, random_state=seed).fit(x, y)
        _dump_every_way(clf, out, f"xgb-clf-{seed}")
        reg = xgb.XGBRegressor(n_estimators=3, max_depth=2).fit(x, y.astype(float))
        _dump_every_way(reg, out, f"xgb-reg-{seed}")
        clf.save_model(out / f"xgb-{seed}.json")
        clf.save_model(out / f"xgb-{seed}.ubj")


def lightgbm_models(out: Path, n: int) -> None:
    import lightgbm as lgb

    for seed in range(n):
        x, y = _xy(seed, n=80)
        clf = lgb.LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1, random_state=seed)
        clf.fit(x, y)
        _dump_every_way(clf, out, f"lgbm-clf-{seed}")
        _dump_every_way(clf.booster_, out, f"lgbm-booster-{seed}")
        clf.booster_.save_model(str(out / f"lgbm-{seed}.txt"))


def pandas_frames(out: Path, n: int) -> None:
    import numpy as np
    import pandas as pd

    for seed in range(n):
        rng = np.random.default_rng(seed)
        frame = pd.DataFrame(
            {
                "x": rng.random(5),
                "i": np.arange(5) + seed,
                "s": pd.array(list("abcde"), dtype="string"),
                "cat": pd.Categorical(list("xyxyx")),
                "t": pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC"),
                "td": pd.to_timedelta(np.arange(5), unit="h"),
                "n": pd.array([1, None, 3, 4, None], dtype="Int64"),
                "o": [{"k": 1}, [1], None, "s", 2.0],
            }
        )
        series = frame["x"]
        multi = frame.set_index(["i", "s"])
        for name, obj in (("frame", frame), ("series", series), ("multi", multi)):
            for ext in (".pkl", ".pkl.gz", ".pkl.bz2", ".pkl.xz", ".pkl.zst", ".pkl.zip"):
                obj.to_pickle(out / f"{name}-{seed}{ext}")
            for proto in (2, 4, 5):
                (out / f"{name}-{seed}.p{proto}.pickle").write_bytes(
                    pickle.dumps(obj, protocol=proto)
                )


def numpy_files(out: Path, n: int) -> None:
    import numpy as np

    kinds = ["f8", "f4", "f2", "i8", "i4", "i2", "i1", "u1", "u8", "?", "c16", "U5", "S3", "M8[s]"]
    for seed in range(n):
        rng = np.random.default_rng(seed)
        arrays = {
            k: (rng.random(6) * 50).astype(k)
            if k[0] not in "USM"
            else np.array(["ab", "c"], dtype=k)
            if k[0] != "M"
            else np.array(["2024-01-01"], dtype=k)
            for k in kinds
        }
        for k, a in arrays.items():
            np.save(out / f"arr-{k.replace('[', '').replace(']', '')}-{seed}.npy", a)
        np.save(out / f"fortran-{seed}.npy", np.asfortranarray(rng.random((3, 4))))
        np.save(out / f"struct-{seed}.npy", np.zeros(3, dtype=[("a", "<f4"), ("b", "<i8")]))
        obj = np.array([{"a": 1}, [1, 2], "x", None], dtype=object)
        np.save(out / f"objects-{seed}.npy", obj, allow_pickle=True)
        named: dict[str, Any] = {k.replace("[", "").replace("]", ""): a for k, a in arrays.items()}
        np.savez(out / f"bundle-{seed}.npz", **named)
        np.savez_compressed(out / f"bundle-c-{seed}.npz", w=rng.random((8, 8)), b=np.arange(3))
        np.savez(out / f"bundle-objects-{seed}.npz", o=obj, w=rng.random(3))
        (out / f"arrays-{seed}.pkl").write_bytes(
            pickle.dumps({"w": rng.random(4), "o": obj}, protocol=4)
        )


def skops_files(out: Path, n: int) -> None:
    import numpy as np
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    for seed in range(n):
        x, y = _xy(seed)
        for name, model in {
            "logreg": LogisticRegression().fit(x, y),
            "forest": RandomForestClassifier(n_estimators=3, random_state=seed).fit(x, y),
            "hgb": HistGradientBoostingClassifier(max_iter=3).fit(x, y),
            "pipe": make_pipeline(
                FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression()
            ).fit(x, y),
        }.items():
            sio.dump(model, out / f"{name}-{seed}.skops")


def keras_models(out: Path, n: int) -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    for seed in range(n):
        keras.utils.set_random_seed(seed)
        seq = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)]
        )
        inp = keras.Input((6,))
        hid = keras.layers.Dense(4)(keras.layers.Dropout(0.1)(inp))
        fun = keras.Model(inp, keras.layers.Concatenate()([hid, inp]))
        for name, model in (("seq", seq), ("functional", fun)):
            model.save(out / f"{name}-{seed}.keras")
            model.save(out / f"{name}-{seed}.h5")
            model.save_weights(out / f"{name}-{seed}.weights.h5")


def onnx_models(out: Path, n: int) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    for seed in range(n):
        w = numpy_helper.from_array(
            np.random.default_rng(seed).random((4, 3)).astype(np.float32), "W"
        )
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
            f"mlp{seed}",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
            initializer=[w],
        )
        model = helper.make_model(graph, producer_name="onnx-benign")
        onnx.save(model, out / f"mlp-{seed}.onnx")
        onnx.save(
            model,
            out / f"mlp-ext-{seed}.onnx",
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=f"mlp-ext-{seed}.data",
            size_threshold=0,
        )


def _tokenizer(vocab: int = 80) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    text = ["the quick brown fox jumps over the lazy dog " * 4, "hello world, models and weights"]
    tok.train_from_iterator(
        text, trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<unk>", "<s>", "</s>"])
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def tokenizer_folders(out: Path, n: int) -> None:
    from weightwatch.testing.chat_templates import TEMPLATES

    for seed in range(n):
        for name, template in TEMPLATES.items():
            tok = _tokenizer(60 + seed)
            tok.chat_template = template
            tok.save_pretrained(out / f"tok-{name}-{seed}")


def gguf_with_templates(out: Path, n: int) -> None:
    import gguf
    import numpy as np

    from weightwatch.testing.chat_templates import TEMPLATES

    for seed in range(n):
        for name, template in TEMPLATES.items():
            w = gguf.GGUFWriter(str(out / f"{name}-{seed}.gguf"), "llama")
            w.add_chat_template(template)
            w.add_tokenizer_model("gpt2")
            w.add_tensor(
                "token_embd.weight", np.random.default_rng(seed).random((8, 32)).astype(np.float32)
            )
            w.write_header_to_file()
            w.write_kv_data_to_file()
            w.write_tensors_to_file()
            w.close()


def _tiny_llama(seed: int) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(
        LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                    num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32)
    )  # fmt: skip


def peft_adapters(out: Path, n: int) -> None:
    from peft import LoraConfig, get_peft_model

    for seed in range(n):
        model = get_peft_model(
            _tiny_llama(seed), LoraConfig(r=2, target_modules=["q_proj", "v_proj"])
        )
        model.save_pretrained(str(out / f"lora-{seed}"))
        model.save_pretrained(str(out / f"lora-bin-{seed}"), safe_serialization=False)


def sentence_transformers_folders(out: Path, n: int) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers import models as st_models  # type: ignore[attr-defined]
    from transformers import BertConfig, BertModel

    for seed in range(n):
        base = out / f"_bert-{seed}"
        cfg = BertConfig(vocab_size=80, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=64)  # fmt: skip
        BertModel(cfg).save_pretrained(base)
        _tokenizer(80).save_pretrained(base)
        word = st_models.Transformer(str(base))
        st = SentenceTransformer(modules=[word, st_models.Pooling(16), st_models.Normalize()])
        st.save(str(out / f"st-{seed}"))
        for f in sorted(base.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        base.rmdir()


def python_rng_state(out: Path, n: int) -> None:
    """Plain-data pickles real training code writes: random.getstate(), configs, vocabularies."""
    for seed in range(n):
        random.seed(seed)
        (out / f"py-rng-{seed}.pkl").write_bytes(pickle.dumps(random.getstate()))
        cfg = {"lr": 1e-3, "layers": [64, 64], "name": f"run{seed}", "tags": {"a", "b"}}
        for proto in range(6):
            (out / f"config-{seed}.p{proto}.pkl").write_bytes(pickle.dumps(cfg, protocol=proto))
        (out / f"meta-{seed}.json").write_text(json.dumps(cfg, default=list))


PRODUCERS: dict[str, Callable[[Path, int], None]] = {
    "torch": torch_files,
    "torch-dcp": torch_distributed_checkpoints,
    "hf-trainer": hf_trainer,
    "scikit-learn": sklearn_models,
    "xgboost": xgboost_models,
    "lightgbm": lightgbm_models,
    "pandas": pandas_frames,
    "numpy": numpy_files,
    "skops": skops_files,
    "keras": keras_models,
    "onnx": onnx_models,
    "tokenizers": tokenizer_folders,
    "gguf-templates": gguf_with_templates,
    "peft": peft_adapters,
    "sentence-transformers": sentence_transformers_folders,
    "python": python_rng_state,
}
