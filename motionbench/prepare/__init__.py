"""Dataset preparation (``task=prepare``): downloaded videos -> the FOMM layout the real-video datasets read.

* :mod:`.metadata`: the official metadata CSV and its frame-selection and box rules;
* :mod:`.extract`: one video's chunks decoded, cropped, resized and written (:mod:`.output`);
* :mod:`.detect`: tubes found in your own videos (faces / bodies);
* :mod:`.run`: :func:`prepare_dataset` (resume, workers, report, manifest), :mod:`.report`, :mod:`.pairs`.
"""
from .metadata import Chunk, chunk_frames, official_name, read_metadata, scale_box
from .presets import PRESETS
from .run import PrepareOptions, PrepareResult, prepare_dataset

__all__ = ["Chunk", "PRESETS", "PrepareOptions", "PrepareResult", "chunk_frames", "official_name",
           "prepare_dataset", "read_metadata", "scale_box"]
