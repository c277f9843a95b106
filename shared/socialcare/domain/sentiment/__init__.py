"""Sentiment of a customer's text: the offline analyser (``analyser``, over ``lexicon``) or
Amazon Comprehend."""
