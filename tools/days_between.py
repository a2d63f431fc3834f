from datetime import date

def days_between(start: date, end: date) -> dict:
    """Count the days between two dates (ISO format, e.g. 2026-11-26).

    Args:
        start: The first date.
        end: The second date.
    """
    days = (end - start).days
    return {"days": days, "weeks": round(days / 7, 2), "start_weekday": start.strftime("%A")}

schema = {'type': 'function',
 'function': {'name': 'days_between',
              'description': 'Count the days between two dates (ISO format, e.g. 2026-11-26).',
              'parameters': {'additionalProperties': False,
                             'properties': {'start': {'description': 'The first date.',
                                                      'format': 'date',
                                                      'type': 'string'},
                                            'end': {'description': 'The second date.',
                                                    'format': 'date',
                                                    'type': 'string'}},
                             'required': ['start', 'end'],
                             'type': 'object'},
              'strict': True}}
