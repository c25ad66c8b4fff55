"""The twin's errors: each says what is wrong with a file or a roof and what to do about it.

They are ``ParvisError`` subclasses, so the web edge renders them as problem+json (API) or a
translated page, and the CLI prints their detail. Details are English source strings marked for
translation with ``%(name)s`` parameters in ``params``; ``message()`` gives the filled-in text.
"""

from __future__ import annotations

from parvis.kernel.errors import N_, NotFound, ParvisError


class BuildingNotFound(NotFound):
    """The building asked for (by id, reference or address) is not in the twin."""

    type_slug = "twin-building-not-found"
    title = N_("This building is not in the city's digital twin.")


class TwinError(ParvisError):
    status = 422
    type_slug = "twin-invalid-input"
    title = N_("This file cannot be used for the digital twin.")

    def message(self) -> str:
        """The detail with its parameters filled in (untranslated), for logs and the CLI."""
        text = self.detail or self.title
        try:
            return text % self.params if self.params else text
        except (KeyError, TypeError, ValueError):
            return text


class FileTooLarge(TwinError):
    status = 413
    type_slug = "twin-file-too-large"
    title = N_("This file is too large to import.")


class MissingCRS(TwinError):
    type_slug = "twin-missing-crs"
    title = N_("This raster does not say which coordinate system it uses.")


class UnreadableFile(TwinError):
    type_slug = "twin-unreadable-file"
    title = N_("This file could not be read.")


class RasterHoles(TwinError):
    type_slug = "twin-raster-holes"
    title = N_("The surface model has holes (no data) too large to fill.")


class InvalidRoof(TwinError):
    type_slug = "twin-invalid-roof"
    title = N_("The shape or slope of this roof cannot be used.")


class NoTerrain(TwinError):
    status = 409
    type_slug = "twin-no-terrain"
    title = N_("Import a terrain model (DTM) first.")


class UnknownImportKind(TwinError):
    type_slug = "twin-unknown-import-kind"
    title = N_("Parvis does not know this kind of twin data.")

