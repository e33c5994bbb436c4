"""The error every API parser raises for a reply it does not recognise."""


class ShapeError(ValueError):
    """The reply is not shaped like anything the parser knows.

    Pollers count it and keep the last good value: an unknown shape must never
    turn into zeros or into a guess.
    """
