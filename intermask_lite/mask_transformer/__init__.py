"""Inter-M, the collaborative masked transformer: masking tools, the model, its training loss and pipeline."""
from .model import InterMTransformer, forward_with_guidance
from .sampling import Sampling, row_seed, sampling_probs
from .tools import TokenIds, bert_corrupt, get_schedule, random_mask_by_ratio, top_k_filter
from .training import build_transformer, load_transformer, masked_token_loss, train_transformer

__all__ = ["InterMTransformer", "forward_with_guidance", "TokenIds", "bert_corrupt", "get_schedule",
           "random_mask_by_ratio", "Sampling", "row_seed", "sampling_probs", "top_k_filter", "build_transformer",
           "load_transformer", "masked_token_loss", "train_transformer"]
