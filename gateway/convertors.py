"""Path convertors: the vocabulary names are the only segments ``{vocabulary:vocab}`` takes;
``{…:int}`` takes only ids a database column can hold (a larger one is a 404, not a 500)."""

from starlette.convertors import Convertor, IntegerConvertor, register_url_convertor


class VocabularyConvertor(Convertor):
    regex = "languages|sources|preferences|interests"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("vocab", VocabularyConvertor())


class IdConvertor(IntegerConvertor):
    """Starlette's int, bounded to 0…2147483647 (PostgreSQL ``integer``; SQLite overflows too)."""

    regex = ("[0-9]{1,9}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
             "|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
             "|21474836[0-3][0-9]|214748364[0-7]")


register_url_convertor("int", IdConvertor())
