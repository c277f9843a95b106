"""Configuration, read one way: ``settings`` (the environment of each function, validated at
cold start) and ``loader`` (the YAML rule files shipped here, validated into ``rules`` models)."""
