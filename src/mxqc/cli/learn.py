"""``mxqc model``, ``train``, ``evaluate``, ``compare``, ``tune``, ``grid-search`` and
``fuse``: drivers over ``mxqc.learn``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from mxqc.cli.common import add, check_centre_method, ints, load_with_views
from mxqc.console import console
from mxqc.learn.presets import PRESETS

Dataset = Annotated[str, typer.Argument(help="Data set in the RefleX layout.")]
Scored = Annotated[str, typer.Argument(
    help="Data set in the RefleX layout, or an `mxqc scan` output over labelled raw frames "
         "(scores the network, the witnesses and the fusion apart).")]
ScanLabels = Annotated[str | None, typer.Option(
    help="For a scan: its frames' labels.csv (default: the one beside the scanned frames).")]
ModelFile = Annotated[str, typer.Argument(help="Model file.")]
Arch = Annotated[str | None, typer.Option(
    help="resnet18|resnet34|resnet50|svm|nb|knn|rf [default: the preset's, or resnet18]")]
Representation = Annotated[str | None, typer.Option(
    help="cartesian|polar-min|polar-max (CNN) or radial (classical) [default: the preset's, "
         "cartesian or radial]")]
Pooling = Annotated[str | None, typer.Option(
    help="CNN input channels: area (the paper's mean of each block), area+peak (plus each "
         "block's strongest pixel, for 1-px features) or area+symmetry (plus what breaks "
         "point symmetry about the beam: gain ramps, steps; needs centres) [default: the "
         "preset's, or area]")]
Preset = Annotated[str | None, typer.Option(
    help=f"CNN settings: {', '.join(PRESETS)} (other options override it).")]
Pretrained = Annotated[str | None, typer.Option(
    help="ImageNet weights: a local .safetensors of torchvision's state dict.")]
Init = Annotated[str | None, typer.Option(
    "--init", help="Start from this mxqc CNN model's weights (same architecture, "
                   "representation and pooling): fine-tune the default model on your own "
                   "frames, or train one on.")]
Device = Annotated[str, typer.Option(
    help="CNN training device: auto (a GPU when torch sees one), cpu, cuda.")]
Tta = Annotated[int, typer.Option(
    help="Test-time views averaged per image (Cartesian CNNs): 1, 4 (the quarter turns) or 8 "
         "(and their mirror images); costs that many forward passes.")]
Centre = Annotated[str | None, typer.Option(
    "--centre", help="Beam centres for models that need them (polar, radial, area+symmetry): "
                     "a method run on each image (e.g. symmetry, as a scan of frames without "
                     "a header finds them) instead of the data set's centres.csv.")]


def _open(dataset_dir: str):
    from mxqc.dataset import load_dataset

    return load_dataset(dataset_dir)


def _epoch_line(event: dict) -> str | None:
    if event["event"] == "epoch":
        return (f"{event['stage']:>12}  epoch {event['epoch']:>2}/{event['epochs']:<2} "
                f"train {event['train_loss']:.4f}  val {event['val_loss']:.4f}  "
                f"F1 {event['val_f1_macro']:.3f}{' *' if event['best'] else '  '} "
                f"{event['epoch_s']:>6.1f} s  (elapsed {event['elapsed_s'] / 60:.1f} min)")
    if event["event"] == "lr_range_test":
        return f"LR-range test: learning rate {event['lr']:.2e}"
    if event["event"] in ("early_stop", "time_budget"):
        return f"{event['stage']}: {event['event'].replace('_', ' ')} after epoch {event['epoch']}"
    return None


def train(dataset_dir: Dataset,
          out: Annotated[str, typer.Option("--out", help="Model file to write.")],
          arch: Arch = None, representation: Representation = None, pooling: Pooling = None,
          preset: Preset = None,
          sizes: Annotated[str | None, typer.Option(help="Progressive sizes, e.g. 64,128.")
                           ] = None,
          epochs: Annotated[str | None, typer.Option(help="Most epochs per size, e.g. 8,16.")
                            ] = None,
          batch_size: Annotated[int | None, typer.Option(help="Batch size.")] = None,
          lr: Annotated[float | None, typer.Option(
              help="Learning rate (default: LR-range test).")] = None,
          time_budget: Annotated[float | None, typer.Option(
              help="Stop training after this many minutes.")] = None,
          pretrained: Pretrained = None, init: Init = None,
          f2: Annotated[bool, typer.Option(help="Tune thresholds for F2, not F1.")] = False,
          half: Annotated[bool, typer.Option(help="Store CNN weights as float16.")] = False,
          jobs: Annotated[int, typer.Option(help="Parallel fits of a classical grid search.")
                          ] = 1,
          device: Device = "auto",
          seed: Annotated[int, typer.Option(help="Random seed.")] = 0):
    """Train a model on a data set's train split (validation: early stopping, thresholds)."""
    from mxqc.learn import CLASSICAL_MODELS, save_model
    from mxqc.learn.bundle import describe

    dataset = _open(dataset_dir)
    beta = 2.0 if f2 else 1.0
    started = time.perf_counter()
    log_path = Path(out).with_suffix(".log.jsonl")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if arch in CLASSICAL_MODELS:
        trained = _train_classical(dataset, arch, representation, beta, seed, jobs, log_path)
    else:
        from mxqc.learn.train import train_config

        try:
            config = train_config(
                preset, arch=arch, representation=representation, pooling=pooling,
                sizes=ints(sizes), epochs=ints(epochs), batch_size=batch_size, lr=lr,
                pretrained=pretrained, init=init,
                time_budget_s=None if time_budget is None else time_budget * 60,
                threshold_beta=beta, seed=seed, device=device)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        trained = _train_cnn(dataset, config, log_path)
    trained.metadata["name"] = Path(out).stem
    if "test" in dataset.splits:
        from mxqc.learn.evaluate import record_test_metrics

        scores = record_test_metrics(trained, dataset)["multilabel"]["mxqc"]
        console.print(f"test split: Jaccard {scores['jaccard']:.3f}, "
                      f"F1 macro {scores['f1_macro']:.3f}")
    path = save_model(trained, out, half=half)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in "
                  f"{(time.perf_counter() - started) / 60:.1f} min; thresholds "
                  f"{describe(trained)['thresholds']}; log {log_path}")


def _train_classical(dataset, arch, representation, beta, seed, jobs, log_path):
    from mxqc.learn import train_classical

    if representation not in (None, "radial"):
        raise typer.BadParameter("classical models use --representation radial")
    with console.status(f"computing radial vectors and grid-searching {arch}"):
        trained = train_classical(dataset, arch, seed=seed, threshold_beta=beta, n_jobs=jobs)
    for params, score in trained.metadata["grid_search"].items():
        console.print(f"  {params}: validation F1 {score:.3f}")
    log_path.write_text(json.dumps(trained.metadata["grid_search"]) + "\n")
    return trained


def _train_cnn(dataset, config, log_path):
    from mxqc.learn import train_cnn
    from mxqc.learn.cnn import resolve_device

    where = resolve_device(config.device)
    console.print(f"training {config.arch} on {config.representation} views "
                  f"({config.pooling} pooling), sizes {config.sizes}, batch "
                  f"{config.batch_size}, on {where}")
    with open(log_path, "w") as log:
        def progress(event):
            log.write(json.dumps(event) + "\n")
            log.flush()
            line = _epoch_line(event)
            if line:
                console.print(line)
        return train_cnn(dataset, config, progress=progress)


def _scores_for(model_path: str, dataset, split: str, tta: int = 1, *, strict: bool = True,
                centre_method: str | None = None):
    from mxqc.learn.evaluate import predict_split

    model, views = load_with_views(model_path, tta, strict=strict)
    return model, views, predict_split(model, dataset, split, centre_method=centre_method,
                                       views=views)


def _display_name(model, views: int) -> str:
    return model.name if views == 1 else f"{model.name} ({views} views)"


def _print_multilabel(named_tables: dict) -> None:
    from mxqc.learn.evaluate import multilabel_rows
    from mxqc.metrics import MULTILABEL_MEASURES

    table = Table(title="multi-label measures (mxqc definitions)")
    for column in ("model", *MULTILABEL_MEASURES):
        table.add_column(column, no_wrap=True)
    for row in multilabel_rows(named_tables):
        table.add_row(*row)
    console.print(table)


def evaluate(model_path: ModelFile, dataset_dir: Scored,
             split: Annotated[str, typer.Option(help="train, val, test or all.")] = "test",
             out: Annotated[str | None, typer.Option(
                 help="Directory for tables and plots (default: next to the model).")] = None,
             tta: Tta = 1, centre: Centre = None, labels: ScanLabels = None):
    """The paper's Tables 3–5 (both metric definitions) and ROC/PR/confusion plots; on a
    scan, the same measures for the network, the witnesses and the fusion apart."""
    from mxqc.learn.evaluate import plot_curves, score_table, write_tables
    from mxqc.scan.results import is_scan

    check_centre_method(centre)
    if is_scan(dataset_dir):
        _refuse_view_options(tta, centre)
        name = Path(dataset_dir).resolve().name
        _score_scan([model_path], dataset_dir, labels, out or str(Path(model_path).with_name(
            f"{Path(model_path).stem}-eval-{name}")))
        return
    dataset = _open(dataset_dir)
    model, used, (truth, scores) = _scores_for(model_path, dataset, split, tta,
                                               centre_method=centre)
    name = _display_name(model, used)
    views = ("" if tta == 1 else f"-tta{tta}") + (f"-{centre}" if centre else "")
    out_dir = Path(out) if out else Path(model_path).with_name(
        f"{Path(model_path).stem}-eval-{split}{views}")
    thresholds = model.thresholds_for(used)
    tables = score_table(truth, scores, thresholds)
    written = write_tables(out_dir, {name: tables})
    plot_curves(out_dir / "curves.png", truth, scores, thresholds,
                title=f"{name} on {dataset.root.name} ({split}, {len(truth)} frames)")
    _print_multilabel({name: tables})
    _print_per_class(name, tables)
    console.print(f"wrote {written['markdown']}, CSV tables and {out_dir / 'curves.png'}")


def _refuse_view_options(tta: int, centre: str | None) -> None:
    if tta != 1 or centre:
        raise typer.BadParameter("--tta and --centre apply to data sets; a scan's network "
                                 "answers are already made (scan with them instead)")


def _score_scan(model_paths: list[str], scan_dir: str, labels: str | None, out: str) -> None:
    """Each source's scores on a scan of labelled frames (``fusion.scan_scores``)."""
    from mxqc.learn.evaluate import write_tables
    from mxqc.learn.fusion import labelled_rows, scan_scores

    rows, truth, cnn = labelled_rows(scan_dir, labels)
    models = [(Path(p).stem, load_with_views(p)[0]) for p in model_paths]
    with console.status(f"scoring the sources on {len(rows)} frames"):
        named = scan_scores(models, rows, truth, cnn)
    _print_multilabel(named)
    _print_per_class_f1(named)
    console.print("witness: each class by its own witnesses alone (rings: loop scattering, "
                  "water and ice rings; spot finder: strong background; background texture: "
                  "diffuse scattering; lines and bands: artefacts; module gains, steps and "
                  "gradients: non-uniform detector)")
    if not any(name.startswith("fusion") for name in named):
        console.print("no fusion row: the model carries none (`mxqc fuse` fits one)")
    console.print(f"wrote {write_tables(out, named)['markdown']} and CSV tables")


def _print_per_class(name: str, tables: dict) -> None:
    from mxqc.classes import CLASSES
    from mxqc.metrics import PER_CLASS_MEASURES

    per_class = Table(title=f"{name}: per class")
    for column in ("class", *PER_CLASS_MEASURES):
        per_class.add_column(column)
    for c in CLASSES:
        per_class.add_row(c, *(f"{tables['per_class']['mxqc'][c][m]:.3f}"
                               for m in PER_CLASS_MEASURES))
    console.print(per_class)


def compare(dataset_dir: Scored,
            models: Annotated[list[str], typer.Argument(help="Model files.")],
            split: Annotated[str, typer.Option(help="Split to score on.")] = "test",
            ensemble: Annotated[bool, typer.Option(
                help="Add the average of the CNNs' probabilities (thresholds tuned on val).")
            ] = False,
            val_dataset: Annotated[str | None, typer.Option(
                help="Data set whose val split tunes the ensemble's thresholds, when DATASET "
                     "is a separate test set (default: DATASET).")] = None,
            out: Annotated[str, typer.Option(help="Directory for the tables.")] = "compare",
            tta: Tta = 1, labels: ScanLabels = None):
    """Several models on one split, one table like the paper's Table 3 (test-time views
    apply to the Cartesian CNNs). On a scan: the network and the witnesses alone, and the
    fusion each model file carries (files fused from the network that scanned)."""
    from mxqc.learn.evaluate import predict_split, score_table, write_tables
    from mxqc.learn.thresholds import tune_thresholds
    from mxqc.scan.results import is_scan

    if is_scan(dataset_dir):
        if ensemble:
            raise typer.BadParameter("--ensemble averages networks over a data set; a scan "
                                     "holds one network's answers")
        _refuse_view_options(tta, None)
        _score_scan(models, dataset_dir, labels, out)
        return
    dataset = _open(dataset_dir)
    named, members = {}, []
    for path in models:
        model, used, (truth, scores) = _scores_for(path, dataset, split, tta, strict=False)
        named[_display_name(model, used)] = score_table(truth, scores,
                                                        model.thresholds_for(used))
        if model.metadata["kind"] == "cnn":
            members.append((model, scores))
    if ensemble:
        if len(members) < 2:
            raise typer.BadParameter("--ensemble needs at least two CNN models")
        tuning = _open(val_dataset) if val_dataset else dataset
        val = [predict_split(m, tuning, "val") for m, _ in members]
        thresholds = tune_thresholds(val[0][0], np.mean([s for _, s in val], axis=0))
        mean = np.mean([s for _, s in members], axis=0)
        named["ensemble(" + "+".join(m.name for m, _ in members) + ")"] = score_table(
            truth, mean, thresholds)
    written = write_tables(out, named)
    _print_multilabel(named)
    console.print(f"wrote {written['markdown']} and CSV tables")


def grid_search(dataset_dir: Dataset,
                archs: Annotated[str, typer.Option(help="Architectures.")] = "resnet18,resnet34",
                sizes: Annotated[str, typer.Option(help="Image sizes.")] = "64,128",
                batch_sizes: Annotated[str, typer.Option(help="Batch sizes.")] = "16,32",
                representation: Annotated[str, typer.Option(help="View.")] = "cartesian",
                epochs: Annotated[int, typer.Option(help="Most epochs per run.")] = 10,
                time_budget: Annotated[float | None, typer.Option(
                    help="Minutes per run.")] = None,
                out: Annotated[str, typer.Option(help="Directory for results.")] = "grid"):
    """The paper's grid: image size × batch size × architecture; validation and test scores."""
    from mxqc.learn.train import TrainConfig

    dataset = _open(dataset_dir)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for arch in archs.split(","):
        for size in ints(sizes):
            for batch in ints(batch_sizes):
                config = TrainConfig(arch=arch, representation=representation, sizes=(size,),
                                     epochs=(epochs,), batch_size=batch,
                                     time_budget_s=time_budget and time_budget * 60)
                rows.append(_grid_run(dataset, config))
                console.print(rows[-1])
                _write_rows(out_dir / "grid.csv", rows)
    table = Table(title="grid search")
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*map(str, row.values()))
    console.print(table)
    header = list(rows[0])
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    (out_dir / "grid.md").write_text("\n".join(md) + "\n")
    console.print(f"wrote {out_dir / 'grid.csv'} and {out_dir / 'grid.md'}")


def _grid_run(dataset, config) -> dict:
    """One cell of the grid: train, then score on val and test."""
    from mxqc.learn import train_cnn
    from mxqc.learn.evaluate import predict_split, score_table

    started = time.perf_counter()
    model = train_cnn(dataset, config)
    row = {"arch": config.arch, "size": config.sizes[0], "batch_size": config.batch_size,
           "train_min": round((time.perf_counter() - started) / 60, 1)}
    for split in ("val", "test"):
        truth, scores = predict_split(model, dataset, split)
        ml = score_table(truth, scores, model.thresholds)["multilabel"]["mxqc"]
        row[f"{split}_jaccard"] = round(ml["jaccard"], 4)
        row[f"{split}_f1_macro"] = round(ml["f1_macro"], 4)
    return row


def _write_rows(path: Path, rows: list[dict]) -> None:
    import csv

    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _check_suffix(out: str, model_path: str) -> None:
    if Path(out).suffix != Path(model_path).suffix:
        raise typer.BadParameter(f"keep the model's suffix ({Path(model_path).suffix})",
                                 param_hint="--out")


def tune(model_path: ModelFile,
         dataset_dir: Annotated[str, typer.Argument(help="Labelled data set (RefleX layout).")],
         out: Annotated[str, typer.Option(help="Where to write the re-tuned model.")],
         split: Annotated[str, typer.Option(help="Split whose labels tune them.")] = "val",
         f2: Annotated[bool, typer.Option(help="Maximise F2 (recall first), not F1.")] = False):
    """Re-tune a model's per-class thresholds on labelled frames (e.g. your own beamline's),
    for 1, 4 and 8 test-time views of a Cartesian CNN; the weights are unchanged."""
    from mxqc.learn import save_model
    from mxqc.learn.evaluate import tune_model_thresholds

    dataset = _open(dataset_dir)
    model, _ = load_with_views(model_path)
    _check_suffix(out, model_path)
    with console.status(f"scoring {model.name} on {dataset.root.name} ({split})"):
        tune_model_thresholds(model, dataset, split, beta=2.0 if f2 else 1.0)
    path = save_model(model, out, half=model.metadata.get("weights_dtype") == "float16")
    for views, values in {"1": model.metadata["thresholds"],
                          **model.metadata["tta_thresholds"]}.items():
        console.print(f"{views} view(s): " + ", ".join(f"{v:.2f}" for v in values))
    console.print(f"wrote {path}")


def model(path: Annotated[str | None, typer.Argument(
        help="Model file (default: the shipped default model).")] = None):
    """What a model file holds: architecture, view, classes, thresholds, data, metrics."""
    from mxqc.learn import load_model
    from mxqc.learn.bundle import describe

    console.print_json(json.dumps(describe(load_model(path)), default=str))


def fuse(model_path: Annotated[str, typer.Argument(help="Model file (CNN) to fuse.")],
         scan_dir: Annotated[str, typer.Argument(
             help="`mxqc scan` output over labelled frames (e.g. `mxqc simulate` raw frames)")],
         out: Annotated[str, typer.Option(help="Where to write the fused model.")],
         labels: Annotated[str | None, typer.Option(
             help="labels.csv (default: the one beside the scanned frames).")] = None,
         test: Annotated[str | None, typer.Option(
             help="A second scan of labelled frames to score the sources on.")] = None,
         test_labels: Annotated[str | None, typer.Option(
             help="Its labels.csv (default: beside its frames).")] = None,
         tables: Annotated[str | None, typer.Option(
             help="Directory for the score tables (Markdown and CSV).")] = None):
    """Fit the fused verdict (CNN logit + each class's witness features, sign-bounded
    logistic models) on a scan of labelled frames, and score the CNN alone (as shipped, and
    recalibrated the same way), the witnesses alone and the fusion, out of fold on the
    fitting scan and on --test."""
    from mxqc.learn import save_model
    from mxqc.learn.evaluate import write_tables
    from mxqc.learn.fusion import fit_fusion, labelled_rows

    model, _ = load_with_views(model_path)
    _check_suffix(out, model_path)
    rows, truth, cnn = labelled_rows(scan_dir, labels)
    tested = labelled_rows(test, test_labels) if test else None
    with console.status(f"fitting on {len(rows)} frames"):
        fits = {source: fit_fusion(cnn, rows, truth, source=source)
                for source in ("cnn", "witness", "fusion")}
    named = _fusion_scores(model, fits, (rows, truth, cnn), tested)
    _print_multilabel(named)
    _print_per_class_f1(named)
    if tables:
        console.print(f"tables: {write_tables(tables, named)['markdown']}")
    model.metadata["fusion"] = {**fits["fusion"][0], "fitted_on": {"scan": str(scan_dir),
                                                                   "frames": len(rows)}}
    path = save_model(model, out, half=model.metadata.get("weights_dtype") == "float16")
    console.print(f"wrote {path}")


def _fusion_scores(model, fits: dict, fitted, tested) -> dict:
    """Score tables: the CNN as shipped; each source out of fold; and on the test scan."""
    from mxqc.learn.evaluate import score_table
    from mxqc.learn.fusion import apply_fusion

    # "cnn recalibrated": the network's logit alone through the same fitting, so that the
    # fusion's gain over it is the witnesses' and not the re-tuned thresholds'
    names = {"cnn": "cnn recalibrated", "witness": "witness", "fusion": "fusion"}
    _, truth, cnn = fitted
    named = {"cnn": score_table(truth, cnn, model.thresholds)}
    named |= {f"{names[k]} (out of fold)": score_table(truth, probs, spec["thresholds"])
              for k, (spec, probs) in fits.items()}
    if tested:
        t_rows, t_truth, t_cnn = tested
        named["cnn (test)"] = score_table(t_truth, t_cnn, model.thresholds)
        named |= {f"{names[k]} (test)": score_table(
            t_truth, apply_fusion(spec, t_cnn, t_rows), spec["thresholds"])
            for k, (spec, _) in fits.items()}
    return named


def _print_per_class_f1(named_tables: dict) -> None:
    from mxqc.classes import CLASSES

    table = Table(title="F1 per class (mxqc definitions)")
    for column in ("source", *CLASSES):
        table.add_column(column, no_wrap=True)
    for name, t in named_tables.items():
        table.add_row(name, *(f"{t['per_class']['mxqc'][c]['f1']:.3f}" for c in CLASSES))
    console.print(table)


def register(app: typer.Typer) -> None:
    for command in (model, train, evaluate, compare, tune, fuse):
        add(app, command)
    add(app, grid_search, "grid-search")
