"""ktrain's 20 Newsgroups tutorial script, ported by changing the import, runs as written.

The script text below is ktrain's tutorial code with only the import line and the data/model
(a tiny model and toy data, so it runs in seconds) changed.
"""

from __future__ import annotations

import textwrap

import helpers

SCRIPT = textwrap.dedent('''
    import tfclf as ktrain
    from tfclf import text

    x_train, y_train = TRAIN
    x_test, y_test = TEST
    class_names = sorted(set(y_train))
    y_train = [class_names.index(y) for y in y_train]      # integer ids, as sklearn gives them
    y_test = [class_names.index(y) for y in y_test]

    t = text.Transformer(MODEL_NAME, maxlen=32, class_names=class_names)
    trn = t.preprocess_train(x_train, y_train)
    val = t.preprocess_test(x_test, y_test)
    model = t.get_classifier()
    learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=16)
    learner.lr_find(show_plot=True, max_epochs=1)
    learner.lr_plot()
    estimates = learner.lr_estimate()
    learner.fit_onecycle(5e-3, 3)
    learner.validate(class_names=t.get_classes())
    learner.view_top_losses(n=1, preproc=t)
    predictor = ktrain.get_predictor(learner.model, preproc=t)
    label = predictor.predict('good great wonderful movie')
    predictor.explain('good great wonderful movie', n_samples=50)
    predictor.save(SAVE_TO)
    reloaded_predictor = ktrain.load_predictor(SAVE_TO)
    proba = reloaded_predictor.predict_proba('good great wonderful movie')
    classes = reloaded_predictor.get_classes()
''')


def test_the_tutorial_script_runs_after_changing_the_import(tiny_distilbert_dir, tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    env = {
        "MODEL_NAME": str(tiny_distilbert_dir),
        "TRAIN": helpers.toy_sentiment(256, seed=1),
        "TEST": helpers.toy_sentiment(64, seed=2),
        "SAVE_TO": str(tmp_path / "my_predictor"),
    }
    exec(compile(SCRIPT, "ported_ktrain_tutorial.py", "exec"), env)  # noqa: S102 - our own fixed script
    out = capsys.readouterr().out
    assert "precision" in out and "id:" in out  # the report and the top loss, with its text
    assert env["label"] == "pos"
    assert len(env["estimates"]) == 3
    assert env["classes"] == ["neg", "pos"]
    assert env["proba"].shape == (2,) and env["proba"][1] > 0.5
