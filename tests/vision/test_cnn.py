"""The seed's worked numbers (section 3), reproduced exactly."""

import numpy as np
import pytest

from vision import cnn

SQUARE = np.array([
    [0, 0, 0, 0, 0, 0, 0, 0],
    [0, 1, 1, 1, 1, 1, 1, 0],
    [0, 1, 1, 1, 1, 1, 1, 0],
    [0, 1, 1, 0, 0, 1, 1, 0],
    [0, 1, 1, 0, 0, 1, 1, 0],
    [0, 1, 1, 1, 1, 1, 1, 0],
    [0, 1, 1, 1, 1, 1, 1, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
])
SEED_CONV = np.array([
    [2, 3, 3, 3, 3, 2],
    [2, 3, 3, 3, 3, 2],
    [2, 2, 1, 1, 2, 2],
    [2, 2, 1, 1, 2, 2],
    [2, 3, 3, 3, 3, 2],
    [2, 3, 3, 3, 3, 2],
])
SEED_RELU = np.array([
    [0, 1, 1, 1, 1, 0],
    [0, 1, 1, 1, 1, 0],
    [0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
    [0, 1, 1, 1, 1, 0],
    [0, 1, 1, 1, 1, 0],
])
SEED_POOL = np.array([[1, 1, 1], [0, 0, 0], [1, 1, 1]])


def test_p_q_example_gives_2():
    p = np.array([[1, 0, 1], [0, 1, 0], [0, 1, 1]])
    q = np.array([[0, 1, 1], [0, 0, 0], [1, 0, 1]])
    assert cnn.conv2d_at(p, q) == 2
    assert cnn.conv2d(p, q).tolist() == [[2.0]]


def test_square_with_horizontal_line_kernel_gives_the_seed_table():
    out = cnn.conv2d(SQUARE, cnn.KERNELS["horizontal_line"])
    np.testing.assert_array_equal(out, SEED_CONV)


def test_relu_offset_2_keeps_the_two_horizontal_edges():
    np.testing.assert_array_equal(cnn.relu(SEED_CONV, offset=2), SEED_RELU)


def test_max_pooling_gives_the_seed_3x3_table():
    relu = cnn.relu(cnn.conv2d(SQUARE, cnn.KERNELS["horizontal_line"]), offset=2)
    np.testing.assert_array_equal(cnn.pool2d(relu, 2, mode="max"), SEED_POOL)


def test_flatten_two_3x3_features_gives_18_values():
    v = cnn.flatten(SEED_POOL, SEED_POOL.T)
    assert v.shape == (18,) and v[:3].tolist() == [1, 1, 1]


def test_vertical_kernel_finds_vertical_edges():
    out = cnn.relu(cnn.conv2d(SQUARE, cnn.KERNELS["vertical_line"]), offset=2)
    np.testing.assert_array_equal(out, SEED_RELU.T)


def test_identity_same_padding_returns_the_image():
    img = np.arange(30, dtype=float).reshape(5, 6)
    np.testing.assert_array_equal(cnn.conv2d(img, cnn.KERNELS["identity"], padding="same"), img)


def test_same_padding_and_stride_match_keras_shapes():
    img = np.ones((7, 9))
    assert cnn.conv2d(img, np.ones((3, 3)), padding="same", stride=2).shape == (4, 5)
    assert cnn.conv2d(img, np.ones((3, 3)), padding="valid", stride=2).shape == (3, 4)
    # interior of a same-padded all-ones image sums the kernel; borders see zeros
    out = cnn.conv2d(img, np.ones((3, 3)), padding="same")
    assert out[3, 4] == 9 and out[0, 0] == 4


def test_average_pooling_and_ragged_border():
    x = np.arange(25, dtype=float).reshape(5, 5)
    np.testing.assert_allclose(cnn.pool2d(x, 2, mode="average"), [[3, 5], [13, 15]])


def test_edge_kernel_equals_the_seed_formula():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, size=(6, 7)).astype(float)
    out = cnn.conv2d(img, cnn.KERNELS["edge"])
    # K_E * I = [I(x+1,y) - I(x-1,y)] + [I(x,y+1) - I(x,y-1)] at the window centre
    y, x = 2, 3
    expected = (img[y, x + 1] - img[y, x - 1]) + (img[y + 1, x] - img[y - 1, x])
    assert out[y - 1, x - 1] == expected


@pytest.mark.parametrize("text, words", [
    ("1 2 3\n4 5\n6 7 8", "3×3 or 5×5"),  # ragged rows: a shape problem, not a number problem
    ("nan 0 0\n0 1 0\n0 0 0", "between -1000 and 1000"),
    ("inf 0 0\n0 1 0\n0 0 0", "between -1000 and 1000"),
    ("1e308 0 0\n0 1 0\n0 0 0", "between -1000 and 1000"),
    ("a 0 0\n0 1 0\n0 0 0", "only numbers"),
])
def test_parse_kernel_refuses_in_words(text, words):
    with pytest.raises(ValueError, match=words):
        cnn.parse_kernel(text)


def test_parse_kernel_and_errors():
    np.testing.assert_array_equal(cnn.parse_kernel("0 0 0\n1, 1, 1\n0 0 0"), cnn.KERNELS["horizontal_line"])
    assert cnn.parse_kernel("1 2 3 4 5;" * 5).shape == (5, 5)
    with pytest.raises(ValueError, match="only numbers"):
        cnn.parse_kernel("a b c\n1 2 3\n1 2 3")
    with pytest.raises(ValueError, match="3×3 or 5×5"):
        cnn.parse_kernel("1 2\n3 4")
    with pytest.raises(ValueError):
        cnn.conv2d(np.ones((2, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError):
        cnn.conv2d(np.ones((5, 5)), np.ones((3, 3)), padding="full")


def test_display_scaling():
    assert cnn.to_display(np.array([[-1.0, 1.0]])).tolist() == [[0, 255]]
    assert cnn.to_display(np.zeros((2, 2))).max() == 0
    assert cnn.to_gray(np.full((2, 2, 3), 255, np.uint8)).max() == pytest.approx(255)
