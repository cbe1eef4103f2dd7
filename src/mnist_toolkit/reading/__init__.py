"""Reading a digit from someone's image: decoding it, finding the ink on the paper, grouping strokes
into digits, and making the MNIST-style 28x28 input (centred by mass in a 20x20 box) the models take."""
