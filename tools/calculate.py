import ast
import operator

def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression safely: numbers, + - * / // % ** and parentheses.

    Args:
        expression: The expression, e.g. "(2 + 3) * 4.5".
    """
    operators = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                 ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
                 ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos}

    def evaluate(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in operators:
            return operators[type(node.op)](evaluate(node.left), evaluate(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in operators:
            return operators[type(node.op)](evaluate(node.operand))
        raise ValueError(f"unsupported expression element: {ast.dump(node)[:60]}")

    return evaluate(ast.parse(expression, mode="eval").body)

schema = {'type': 'function',
 'function': {'name': 'calculate',
              'description': 'Evaluate an arithmetic expression safely: numbers, + - * / // % ** '
                             'and parentheses.',
              'parameters': {'additionalProperties': False,
                             'properties': {'expression': {'description': 'The expression, e.g. '
                                                                          '"(2 + 3) * 4.5".',
                                                           'type': 'string'}},
                             'required': ['expression'],
                             'type': 'object'},
              'strict': True}}
