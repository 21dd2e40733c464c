"""Element types and their sizes in bytes."""

# What --dtype may choose for parameters and activations.
MODEL_DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}

# What a spec input may be: token ids and masks are integers.
INPUT_DTYPES = {**MODEL_DTYPES, "int64": 8, "int32": 4, "int16": 2, "uint8": 1, "bool": 1}

INT64_BYTES = 8
