from typing import Literal

def convert_temperature(value: float, from_unit: Literal["c", "f", "k"], to_unit: Literal["c", "f", "k"]) -> float:
    """Convert a temperature between Celsius, Fahrenheit and Kelvin.

    Args:
        value: The temperature to convert.
        from_unit: Unit of `value`: c, f or k.
        to_unit: Unit to convert to: c, f or k.
    """
    celsius = {"c": value, "f": (value - 32) * 5 / 9, "k": value - 273.15}[from_unit]
    result = {"c": celsius, "f": celsius * 9 / 5 + 32, "k": celsius + 273.15}[to_unit]
    return round(result, 2)

schema = {'type': 'function',
 'function': {'name': 'convert_temperature',
              'description': 'Convert a temperature between Celsius, Fahrenheit and Kelvin.',
              'parameters': {'additionalProperties': False,
                             'properties': {'value': {'description': 'The temperature to convert.',
                                                      'type': 'number'},
                                            'from_unit': {'description': 'Unit of `value`: c, f or '
                                                                         'k.',
                                                          'enum': ['c', 'f', 'k'],
                                                          'type': 'string'},
                                            'to_unit': {'description': 'Unit to convert to: c, f '
                                                                       'or k.',
                                                        'enum': ['c', 'f', 'k'],
                                                        'type': 'string'}},
                             'required': ['value', 'from_unit', 'to_unit'],
                             'type': 'object'},
              'strict': True}}
