from cairn_shared.service import serve

from cairn_storage.bootstrap import create_app


def main() -> None:
    serve("storage", create_app)


if __name__ == "__main__":
    main()
