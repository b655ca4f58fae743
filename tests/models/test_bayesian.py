"""BayesianALS on planted data: the posterior recovers what was planted."""

import numpy as np
import pytest

import alsrec
from alsrec import ALS, BayesianALS, ModelFileError, ParameterError, load_model
from alsrec.models.catalog import make_model
from tests.reliability.test_model_files import tampered


@pytest.fixture(scope="module")
def planted():
    """Rank 3, noise std 0.5 (tau = 4), about 80 ratings per user."""
    return alsrec.generate(
        300,
        200,
        24_000,
        rank=3,
        noise_std=0.5,
        popularity_exponent=0.3,
        activity_sigma=0.3,
        seed=3,
    )


@pytest.fixture(scope="module")
def fitted(planted):
    return BayesianALS(
        factors=3, sweeps=60, burn_in=20, dtype="float64", random_state=0, num_threads=1
    ).fit(planted.interactions)


def test_posterior_mean_recovers_the_planted_signal_and_noise_precision(planted, fitted):
    truth = planted.user_factors.astype(np.float64) @ planted.item_factors.T
    estimate = fitted.score_users(np.arange(300))  # every cell, rated or not
    error = np.sqrt(np.mean((estimate - truth) ** 2))
    assert error < 0.4 * planted.noise_std  # far below the noise in any one rating
    assert error < 0.2 * truth.std()
    tau = np.mean(fitted.noise_precision_history_[20:])
    assert tau == pytest.approx(1 / planted.noise_std**2, rel=0.05)
    # a sample's train RMSE sits at the noise level, not below it (no overfitting)
    assert fitted.rmse_history_[-1] == pytest.approx(planted.noise_std, rel=0.1)


def test_concatenated_factors_predict_the_average_of_per_sample_predictions(planted):
    # The chain does not depend on which sweeps are kept, so a model keeping sweeps
    # 8, 9, 10 averages exactly the three single-sample models ending there.
    data = planted.interactions
    common = {"factors": 3, "dtype": "float64", "random_state": 5, "num_threads": 1}
    averaged = BayesianALS(sweeps=10, burn_in=7, thinning=1, max_samples=3, **common).fit(data)
    assert averaged.n_samples_ == 3
    singles = [
        BayesianALS(sweeps=sweeps, burn_in=sweeps - 1, max_samples=1, **common).fit(data)
        for sweeps in (8, 9, 10)
    ]
    users, items = np.repeat(np.arange(20), 5), np.tile(np.arange(0, 200, 40), 20)
    expected = np.mean([m.predict(users, items) for m in singles], axis=0)
    np.testing.assert_allclose(averaged.predict(users, items), expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        averaged.score_users(users[:3]),
        np.mean([m.score_users(users[:3]) for m in singles], axis=0),
        atol=1e-10,
    )


def test_same_seed_is_bit_identical_on_one_or_two_threads(planted):
    data = planted.interactions
    runs = [
        BayesianALS(factors=3, sweeps=6, burn_in=2, random_state=11, num_threads=n).fit(data)
        for n in (1, 2)
    ]
    np.testing.assert_array_equal(runs[0].user_factors_, runs[1].user_factors_)
    np.testing.assert_array_equal(runs[0].item_factors_, runs[1].item_factors_)
    np.testing.assert_array_equal(runs[0].item_bias_, runs[1].item_bias_)
    assert runs[0].rmse_history_ == runs[1].rmse_history_
    other = BayesianALS(factors=3, sweeps=6, burn_in=2, random_state=12, num_threads=1).fit(data)
    assert not np.array_equal(other.user_factors_, runs[0].user_factors_)


def test_save_load_round_trip_keeps_predictions_and_fold_in(fitted, tmp_path):
    path = tmp_path / "bayes.alsrec"
    fitted.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, BayesianALS)
    assert loaded.get_params()["sweeps"] == 60
    users, items = np.arange(10), np.arange(10, 20)
    np.testing.assert_array_equal(loaded.predict(users, items), fitted.predict(users, items))
    assert loaded.recommend(3, n=5).equals(fitted.recommend(3, n=5))
    assert loaded.similar_items(4, n=5).equals(fitted.similar_items(4, n=5))
    vector, bias = fitted.fold_in([1, 2, 3], [1.0, -0.5, 0.2])
    loaded_vector, loaded_bias = loaded.fold_in([1, 2, 3], [1.0, -0.5, 0.2])
    np.testing.assert_array_equal(vector, loaded_vector)
    assert bias == loaded_bias


def test_loader_refuses_samples_that_do_not_fit_the_model(planted, fitted, tmp_path):
    path = tmp_path / "bayes.alsrec"
    fitted.save(path)
    s = fitted.n_samples_  # k = 3, so each prior is 4 x 4
    bad = {
        "sample_noise_precision": (np.full(s, -1.0), "sample_noise_precision holds values <= 0"),
        "sample_item_bias": (np.zeros((s, 3)), rf"sample_item_bias has shape \({s}, 3\)"),
        "sample_global_mean": (np.zeros(7), "one entry per kept sample"),
        "sample_user_prior_precision": (np.zeros((s, 4, 4)), "not positive definite"),
        "sample_user_prior_mean": (np.zeros((s, 4, 4)), "must have 1 to 2 dimensions"),
    }
    for name, (array, message) in bad.items():
        with pytest.raises(ModelFileError, match=message):
            load_model(tampered(path, tmp_path, arrays={name: array}))
    als_path = tmp_path / "als.alsrec"
    ALS("explicit", factors=2, iterations=1).fit(planted.interactions).save(als_path)
    stray = {"sample_global_mean": np.zeros(1)}
    with pytest.raises(ModelFileError, match="belong to no ALS model"):
        load_model(tampered(als_path, tmp_path, arrays=stray))


def test_fold_in_of_a_training_user_predicts_like_the_trained_user(planted, fitted):
    matrix = planted.interactions.matrix
    user = 7
    row = slice(matrix.indptr[user], matrix.indptr[user + 1])
    vector, bias = fitted.fold_in(matrix.indices[row], matrix.data[row])
    assert vector.shape == (fitted.user_factors_.shape[1],)
    folded = fitted.item_factors_ @ vector + bias + fitted.item_bias_
    trained = fitted.score_users([user])[0] - fitted.global_bias_
    assert np.corrcoef(folded, trained)[0, 1] > 0.95
    truth = planted.item_factors @ planted.user_factors[user]
    assert np.sqrt(np.mean((folded + fitted.global_bias_ - truth) ** 2)) < 0.3
    again, _ = fitted.fold_in(matrix.indices[row], matrix.data[row])
    np.testing.assert_array_equal(vector, again)  # seeded: reproducible
    recommended = fitted.recommend_new_user(matrix.indices[row], matrix.data[row], n=3)
    assert not set(recommended["item"]) & set(matrix.indices[row])


def test_kept_sweeps_thin_to_at_most_max_samples():
    model = BayesianALS(sweeps=200, burn_in=10, max_samples=100)
    kept = model.kept_sweeps()
    np.testing.assert_array_equal(kept, np.arange(12, 201, 2))
    np.testing.assert_array_equal(
        BayesianALS(sweeps=20, burn_in=5, thinning=2, max_samples=3).kept_sweeps(), [16, 18, 20]
    )


def test_registry_and_bad_parameters():
    assert isinstance(make_model("bayesian", factors=4), BayesianALS)
    with pytest.raises(ParameterError, match="burn_in"):
        BayesianALS(sweeps=10, burn_in=10).kept_sweeps()
    with pytest.raises(ParameterError, match="max_samples"):
        BayesianALS(max_samples=0).fit(alsrec.generate(20, 10, 50).interactions)
