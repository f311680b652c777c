from cairn_shared.service import serve

from cairn_registry.bootstrap import create_app


def main() -> None:
    serve("registry", create_app)


if __name__ == "__main__":
    main()
