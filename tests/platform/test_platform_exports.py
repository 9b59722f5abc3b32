"""labsvc.platform's public names all resolve and say what they are."""

import labsvc.platform
import labsvc.platform.export


def test_every_public_name_has_a_docstring():
    for module in (labsvc.platform, labsvc.platform.export):
        for name in module.__all__:
            value = getattr(module, name)
            if callable(value):
                assert value.__doc__, f"{module.__name__}.{name} has no docstring"
