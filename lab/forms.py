from django import forms
from django.conf import settings

from .experiments import EXPERIMENTS


class RunForm(forms.Form):
    experiment = forms.ChoiceField(
        choices=[(name, name) for name in EXPERIMENTS],
        help_text="one of " + ", ".join(EXPERIMENTS),
    )
    n = forms.IntegerField(
        min_value=1,
        max_value=settings.LAB_MAX_REQUESTS,
        help_text=f"requests per lane, 1 to {settings.LAB_MAX_REQUESTS}",
    )
    delay = forms.IntegerField(
        min_value=0,
        max_value=settings.LAB_MAX_DELAY,
        help_text=f"whole seconds, 0 to {settings.LAB_MAX_DELAY}",
    )

    def clean(self):
        data = super().clean()
        experiment = EXPERIMENTS.get(data.get("experiment"))
        if (
            experiment
            and experiment.blocks_the_loop
            and "n" in data
            and "delay" in data
        ):
            blocked = data["n"] * data["delay"]
            if blocked > settings.LAB_MAX_BLOCKING:
                # Each of those requests stops this server's event loop in turn.
                self.add_error(
                    "n",
                    f"{experiment.name} would stop this server for n * delay = "
                    f"{blocked} s; at most {settings.LAB_MAX_BLOCKING} s",
                )
        return data
