"""Path convertors: the vocabulary names are the only segments ``{vocabulary:vocab}`` takes."""

from starlette.convertors import Convertor, register_url_convertor


class VocabularyConvertor(Convertor):
    regex = "languages|sources|preferences|interests"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("vocab", VocabularyConvertor())
