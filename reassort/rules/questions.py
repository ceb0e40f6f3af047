"""The vetted list of questions défi (SEC-05).

No question whose answer is public or guessable from the registry or social
networks (birth date, postcode, département, mother's maiden name, pet's name…):
memorable, stable, personal facts with many possible answers.
"""

QUESTIONS = {
    "q1": "Quel était le nom de votre meilleur ami ou meilleure amie d'enfance ?",
    "q2": "Quel est le titre du premier livre qui vous a marqué ?",
    "q3": "Dans quelle rue habitait votre premier ou première camarade de classe ?",
    "q4": "Quel était le métier rêvé de votre enfance ?",
    "q5": "Quel est le prénom de votre premier professeur ou première professeure préféré(e) ?",
    "q6": "Quel plat cuisiniez-vous le plus souvent lors de votre premier logement ?",
    "q7": "Quel était le nom de votre premier ou première collègue de travail ?",
    "q8": "Quel est le titre de la première chanson que vous avez sue par cœur ?",
}


def text(question_id: str | None) -> str:
    return QUESTIONS.get(question_id or "", "")
