from cairn_shared.service import serve

from cairn_automations.bootstrap import create_app


def main() -> None:
    serve("automations", create_app)


if __name__ == "__main__":
    main()
