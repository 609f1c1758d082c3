import os

# Hugging Face layers are built from configs in code; nothing may come from the hub.
os.environ["HF_HUB_OFFLINE"] = "1"
